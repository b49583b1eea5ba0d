#include "cli/wallet_commands.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "cli/exit_codes.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

std::string tags_text(const json::value& wallet) {
  std::string out;
  if (const auto* tags = find(wallet, "tags"); tags && tags->is_array()) {
    for (const auto& tag : tags->as_array()) out += (out.empty() ? "" : ", ") + scalar_text(tag);
  }
  return out;
}

void print_wallet(const json::value& wallet) {
  const json::value empty;
  const auto* k = find(wallet, "signingKey");
  const json::value& key = k ? *k : empty;
  print_fields({{"id", field(wallet, "id")},
                {"network", field(wallet, "network")},
                {"address", field(wallet, "address")},
                {"name", field(wallet, "name")},
                {"status", field(wallet, "status")},
                {"custodial", field(wallet, "custodial")},
                {"keyId", field(key, "id")},
                {"scheme", field(key, "scheme")},
                {"curve", field(key, "curve")},
                {"publicKey", field(key, "publicKey")},
                {"delegatedTo", field(key, "delegatedTo")},
                {"tags", tags_text(wallet)},
                {"externalId", field(wallet, "externalId")},
                {"dateCreated", field(wallet, "dateCreated")}});
}

void print_wallet_table(const std::vector<json::value>& wallets) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : wallets) {
    const auto* key = find(w, "signingKey");
    rows.push_back({field(w, "id"), field(w, "network"), field(w, "address"), key ? field(*key, "id") : "",
                    field(w, "status"), field(w, "dateCreated"), field(w, "name")});
  }
  print_table({"ID", "NETWORK", "ADDRESS", "KEY", "STATUS", "CREATED", "NAME"}, rows);
}

std::string wallet_path(const std::string& wallet_id) { return "/wallets/" + percent_encode(wallet_id); }

int run_create(const DaemonContext& ctx, const WalletsCommands& c) {
  json::object body{{"network", c.network}};
  if (c.name_option->count() > 0) body["name"] = c.name;
  if (c.key_id_option->count() > 0) body["signingKey"] = json::object{{"id", c.key_id}};
  if (c.delay_delegation) body["delayDelegation"] = true;
  if (!c.tags.empty()) body["tags"] = json::array(c.tags.begin(), c.tags.end());
  return exchange(ctx, "POST", "/wallets", json::serialize(body), print_wallet);
}

int run_list(const DaemonContext& ctx, const WalletsCommands& c) {
  ListArgs args;
  if (c.limit_option->count() > 0) args.limit = c.limit;
  if (c.page_token_option->count() > 0) args.page_token = c.page_token;
  args.all = c.all;
  if (c.owner_option->count() > 0) args.query.push_back("owner=" + percent_encode(c.owner));
  return list_pages(ctx, "/wallets", args, "wallets", print_wallet_table);
}

int run_delegate(const DaemonContext& ctx, const WalletsCommands& c) {
  return exchange(ctx, "POST", wallet_path(c.wallet_id) + "/delegate",
                  json::serialize(json::object{{"userId", c.user_id}}), [](const json::value& reply) {
                    print_fields({{"walletId", field(reply, "walletId")}, {"status", field(reply, "status")}});
                  });
}

}  // namespace

void add_wallets_commands(CLI::App& app, WalletsCommands& c) {
  auto* wallets =
      app.add_subcommand("wallets", "create, list, read and delegate wallets (a key's address on a network)");
  wallets->require_subcommand(1);

  c.create = wallets->add_subcommand(
      "create", "create a wallet: a new HSM key (or --key-id) and its address on the network (POST /wallets)");
  c.create->add_option("--network", c.network, "the network, e.g. Ethereum, Bitcoin, Solana, Base")->required();
  c.name_option = c.create->add_option("--name", c.name, "a name for the wallet");
  c.key_id_option = c.create->add_option("--key-id", c.key_id, "use this existing key (key-…) instead of creating one");
  auto* delay = c.create->add_flag("--delay-delegation", c.delay_delegation,
                                   "create the key custodial, to be handed to an end user later with `wallets "
                                   "delegate` (a new key only)");
  delay->excludes(c.key_id_option);
  c.create->add_option("--tag", c.tags, "a tag; repeat for more");

  c.list = wallets->add_subcommand("list", "list wallets, newest first (GET /wallets)");
  c.limit_option =
      c.list->add_option("--limit", c.limit, "page size (default: the daemon's)")->check(CLI::Range(1u, 1000000u));
  c.page_token_option = c.list->add_option("--page-token", c.page_token, "start at this nextPageToken");
  c.list->add_flag("--all", c.all, "follow nextPageToken to the last page");
  c.owner_option =
      c.list->add_option("--owner", c.owner, "only the wallets delegated to this end user (us-… or username)");

  c.get = wallets->add_subcommand("get", "read a wallet (GET /wallets/WALLET_ID)");
  c.get->add_option("WALLET_ID", c.wallet_id, "the wallet's id (wa-…)")->required();

  c.delegate = wallets->add_subcommand("delegate",
                                       "hand a wallet's key, created with --delay-delegation, to an end user for good "
                                       "(POST /wallets/WALLET_ID/delegate)");
  c.delegate->add_option("WALLET_ID", c.wallet_id, "the wallet's id (wa-…)")->required();
  c.delegate->add_option("--user", c.user_id, "the end user (us-…)")->required();
}

std::optional<int> run_wallets_commands(const DaemonContext& ctx, const WalletsCommands& c) {
  if (c.create && c.create->parsed()) return run_create(ctx, c);
  if (c.list && c.list->parsed()) return run_list(ctx, c);
  if (c.get && c.get->parsed()) {
    return exchange(ctx, "GET", wallet_path(c.wallet_id), std::nullopt, print_wallet);
  }
  if (c.delegate && c.delegate->parsed()) return run_delegate(ctx, c);
  return std::nullopt;
}

}  // namespace signerd::cli
