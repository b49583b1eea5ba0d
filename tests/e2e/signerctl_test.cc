// The built signerctl against the built daemon (Unix socket and TCP) and a real SoftHSM token: every command, its
// --json output, its exit codes, `audit verify` on a database altered behind the daemon's back, and `hsm check`
// with and without a finding. TCP tokens come from `signerctl service-accounts create --token-out`.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"
#include "tests/support/signerctl_run.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kHash = "0x" + std::string(62, '1') + "ab";
const std::string kOtherHash = "0x" + std::string(62, '2') + "cd";
// Hand-written rather than std::regex: g++ 12 with -fsanitize=address warns (maybe-uninitialized) inside <regex>.
bool is_lower_alnum(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

// ^key-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$
bool is_key_id(std::string_view id) {
  if (id.size() < 30 || id.size() > 32 || id.substr(0, 4) != "key-" || id[9] != '-' || id[15] != '-') return false;
  return is_lower_alnum(id.substr(4, 5)) && is_lower_alnum(id.substr(10, 5)) && is_lower_alnum(id.substr(16));
}

// ^0x[0-9a-f]{64}$
bool is_hex32(std::string_view s) {
  return s.size() == 66 && s.substr(0, 2) == "0x" &&
         std::all_of(s.begin() + 2, s.end(), [](char c) { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'); });
}

bool has(const json::value& v, std::string_view key) { return v.is_object() && v.as_object().contains(key); }

// A service account signerctl created over the Unix socket, its token in a 0600 file (--token-out).
struct CtlServiceAccount {
  std::string user_id;
  std::string cred_id;
  std::filesystem::path token_file;
  json::value reply;  // the create reply, without the token
};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class SignerctlTest : public DaemonFixture {
 protected:
  // signerctl with the given arguments; no token any test made may be among them.
  CtlRun ctl_raw(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    for (const auto& a : args) {
      for (const auto& token : tokens_) EXPECT_EQ(a.find(token), std::string::npos) << a;
    }
    return run_signerctl(args, env);
  }
  // Over the Unix socket: the local administrator.
  CtlRun ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", daemon_->socket_path().string()});
    return ctl_raw(std::move(args));
  }
  // Over TCP with the token in a file.
  CtlRun ctl_tcp(std::vector<std::string> args, const std::filesystem::path& token_file) {
    args.insert(args.begin(),
                {"--url", "http://127.0.0.1:" + std::to_string(daemon_->port()), "--token-file", token_file.string()});
    return ctl_raw(std::move(args));
  }
  json::value create(const std::string& scheme = "ECDSA", const std::string& curve = "secp256k1") {
    const CtlRun r = ctl({"--json", "keys", "create", "--scheme", scheme, "--curve", curve});
    EXPECT_EQ(r.code, 0) << r;
    return r.json();
  }
  std::vector<std::string> hsm_check_args() {
    return {"hsm", "check", "--module", SoftHsmToken::module_path(), "--token-label", daemon_->token().label()};
  }
  // A fresh P-256 public key in a PEM file.
  std::filesystem::path public_key_file(const std::string& name) {
    const auto path = scratch_.path() / (name + ".pub.pem");
    write_text(path, TestCredential::p256().public_pem());
    return path;
  }
  // `service-accounts create --token-out` over the Unix socket, with `extra` options (--admin, --permission ...).
  CtlServiceAccount create_service_account(const std::string& name, std::vector<std::string> extra = {"--admin"}) {
    CtlServiceAccount sa;
    sa.token_file = scratch_.path() / (name + ".token");
    std::vector<std::string> args{"--json",
                                  "service-accounts",
                                  "create",
                                  "--name",
                                  name,
                                  "--public-key-file",
                                  public_key_file(name).string(),
                                  "--token-out",
                                  sa.token_file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const CtlRun r = ctl(args);
    EXPECT_EQ(r.code, 0) << r;
    sa.reply = r.json();
    if (!sa.reply.is_object()) return sa;
    sa.user_id = str(sa.reply.at("userInfo"), "userId");
    sa.cred_id = str(sa.reply.at("accessTokens").at(0), "credId");
    std::string token = read_text(sa.token_file);
    if (!token.empty() && token.back() == '\n') token.pop_back();
    if (!token.empty()) tokens_.push_back(token);
    return sa;
  }

  TempDir scratch_;
  std::vector<std::string> tokens_;  // every access token made: never on a command line
};

TEST_F(SignerctlTest, StatusReportsALiveDaemon) {
  start();
  const CtlRun text = ctl({"status"});
  EXPECT_EQ(text.code, 0) << text;
  EXPECT_NE(text.out.find("alive"), std::string::npos) << text;
  EXPECT_NE(text.out.find("readiness:"), std::string::npos) << text;

  const CtlRun r = ctl({"status", "--json"});  // global options also after the subcommand
  ASSERT_EQ(r.code, 0) << r;
  const auto v = r.json();
  EXPECT_EQ(str(v.at("healthz"), "status"), "ok") << r;
  EXPECT_EQ(str(v, "endpoint"), "unix:" + daemon_->socket_path().string());
  // /readyz is optional: null when the daemon answers 404.
  if (v.at("readyz").is_null()) {
    EXPECT_NE(text.out.find("not reported"), std::string::npos) << text;
  } else {
    EXPECT_EQ(str(v.at("readyz"), "status"), "ready") << r;
    EXPECT_NE(text.out.find("readiness: ready"), std::string::npos) << text;
  }

  // $SIGNERD_SOCKET stands in for --socket.
  const CtlRun env = ctl_raw({"status"}, {{"SIGNERD_SOCKET", daemon_->socket_path().string()}});
  EXPECT_EQ(env.code, 0) << env;
}

TEST_F(SignerctlTest, CreatesGetsRenamesSignsAndArchivesAKey) {
  start();
  const CtlRun created =
      ctl({"--json", "keys", "create", "--scheme", "ECDSA", "--curve", "secp256k1", "--name", "treasury"});
  ASSERT_EQ(created.code, 0) << created;
  const auto key = created.json();
  const std::string id = str(key, "id");
  ASSERT_TRUE(is_key_id(id)) << created;
  EXPECT_EQ(str(key, "name"), "treasury");
  EXPECT_EQ(str(key, "status"), "Active");
  EXPECT_EQ(str(key, "curve"), "secp256k1");

  const CtlRun got = ctl({"--json", "keys", "get", id});
  ASSERT_EQ(got.code, 0) << got;
  EXPECT_EQ(got.json(), key);
  const CtlRun readable = ctl({"keys", "get", id});
  ASSERT_EQ(readable.code, 0) << readable;
  EXPECT_NE(readable.out.find(id), std::string::npos) << readable;
  EXPECT_NE(readable.out.find("treasury"), std::string::npos) << readable;

  const CtlRun renamed = ctl({"--json", "keys", "rename", id, "--name", "vault"});
  ASSERT_EQ(renamed.code, 0) << renamed;
  EXPECT_EQ(str(renamed.json(), "name"), "vault");
  const CtlRun cleared = ctl({"--json", "keys", "rename", id, "--clear"});
  ASSERT_EQ(cleared.code, 0) << cleared;
  EXPECT_FALSE(has(cleared.json(), "name")) << cleared;
  EXPECT_EQ(ctl({"keys", "rename", id}).code, 2);                            // neither
  EXPECT_EQ(ctl({"keys", "rename", id, "--name", "x", "--clear"}).code, 2);  // both

  const CtlRun signed_run = ctl({"--json", "keys", "sign", id, "--hash", kHash});
  ASSERT_EQ(signed_run.code, 0) << signed_run;
  const auto sig = signed_run.json();
  EXPECT_EQ(str(sig, "status"), "Signed");
  EXPECT_EQ(str(sig, "keyId"), id);
  EXPECT_TRUE(is_hex32(str(sig.at("signature"), "r"))) << signed_run;
  EXPECT_TRUE(is_hex32(str(sig.at("signature"), "s"))) << signed_run;
  const auto recid = sig.at("signature").at("recid").to_number<int>();
  EXPECT_TRUE(recid == 0 || recid == 1);
  EXPECT_EQ(str(sig.at("requestBody"), "hash"), kHash);
  const CtlRun sig_text = ctl({"keys", "sign", id, "--hash", kHash});
  ASSERT_EQ(sig_text.code, 0) << sig_text;
  EXPECT_NE(sig_text.out.find("Signed"), std::string::npos) << sig_text;

  // --external-id: a retry returns the first result; another request with the same id is a conflict (3).
  const CtlRun first = ctl({"--json", "keys", "sign", id, "--hash", kHash, "--external-id", "payout-1"});
  ASSERT_EQ(first.code, 0) << first;
  const CtlRun retry = ctl({"--json", "keys", "sign", id, "--hash", kHash, "--external-id", "payout-1"});
  ASSERT_EQ(retry.code, 0) << retry;
  EXPECT_EQ(str(retry.json(), "id"), str(first.json(), "id"));
  EXPECT_EQ(str(first.json(), "externalId"), "payout-1");
  const CtlRun conflict = ctl({"keys", "sign", id, "--hash", kOtherHash, "--external-id", "payout-1"});
  EXPECT_EQ(conflict.code, 3) << conflict;

  const CtlRun archived = ctl({"--json", "keys", "archive", id});
  ASSERT_EQ(archived.code, 0) << archived;
  EXPECT_EQ(str(archived.json(), "status"), "Archived");
  EXPECT_FALSE(str(archived.json(), "dateDeleted").empty());
  const CtlRun after = ctl({"keys", "sign", id, "--hash", kHash});
  EXPECT_EQ(after.code, 7) << after;
  EXPECT_NE(after.err.find("archived"), std::string::npos) << after;
}

TEST_F(SignerctlTest, SignsMessagesWithEd25519Keys) {
  start();
  const auto key = create("EdDSA", "ed25519");
  const std::string id = str(key, "id");
  ASSERT_FALSE(id.empty());
  const CtlRun r = ctl({"--json", "keys", "sign", id, "--message", "0x68656c6c6f"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(str(r.json(), "status"), "Signed");
  EXPECT_EQ(str(r.json().at("requestBody"), "message"), "0x68656c6c6f");
  EXPECT_EQ(ctl({"keys", "sign", id}).code, 2);  // neither --hash nor --message
  EXPECT_EQ(ctl({"keys", "sign", id, "--hash", kHash, "--message", "0x00"}).code, 2);
}

TEST_F(SignerctlTest, ListFollowsEveryPageWithAll) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(str(create(), "id"));
  const std::vector<std::string> newest_first(ids.rbegin(), ids.rend());

  const CtlRun page = ctl({"--json", "keys", "list", "--limit", "2"});
  ASSERT_EQ(page.code, 0) << page;
  EXPECT_EQ(page.json().at("items").as_array().size(), 2u);
  const std::string next = str(page.json(), "nextPageToken");
  EXPECT_FALSE(next.empty()) << page;
  const CtlRun second = ctl({"--json", "keys", "list", "--limit", "2", "--page-token", next});
  ASSERT_EQ(second.code, 0) << second;
  ASSERT_EQ(second.json().at("items").as_array().size(), 2u);
  EXPECT_EQ(str(second.json().at("items").at(0), "id"), newest_first[2]);

  const CtlRun all = ctl({"--json", "keys", "list", "--limit", "2", "--all"});
  ASSERT_EQ(all.code, 0) << all;
  const auto v = all.json();
  EXPECT_FALSE(has(v, "nextPageToken"));
  std::vector<std::string> listed;
  for (const auto& item : v.at("items").as_array()) listed.push_back(str(item, "id"));
  EXPECT_EQ(listed, newest_first);

  const CtlRun table = ctl({"keys", "list", "--limit", "2", "--all"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table;
  for (const auto& id : ids) {
    EXPECT_NE(table.out.find(id), std::string::npos) << table;
  }
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 6) << table;  // header + 5 keys
  const CtlRun partial = ctl({"keys", "list", "--limit", "2"});
  ASSERT_EQ(partial.code, 0) << partial;
  EXPECT_NE(partial.err.find("--page-token"), std::string::npos) << partial;
}

TEST_F(SignerctlTest, ErrorsHaveTheirExitCodesAndTheDaemonsMessage) {
  start();
  const std::string unknown = "key-aaaaa-bbbbb-cccccccccccccc";
  auto c = daemon_->unix_client();
  const auto direct = c.request("GET", "/keys/" + unknown);
  ASSERT_EQ(direct.status, 404);
  const std::string message = str(direct.json().at("error"), "message");
  ASSERT_FALSE(message.empty());

  const CtlRun missing = ctl({"keys", "get", unknown});
  EXPECT_EQ(missing.code, 4) << missing;
  EXPECT_NE(missing.err.find(message), std::string::npos) << missing;
  EXPECT_TRUE(missing.out.empty()) << missing;
  // With --json the daemon's error body is on stdout as well.
  const CtlRun missing_json = ctl({"--json", "keys", "get", unknown});
  EXPECT_EQ(missing_json.code, 4) << missing_json;
  EXPECT_EQ(missing_json.json().at("error").at("status").to_number<int>(), 404) << missing_json;
  EXPECT_EQ(ctl({"keys", "archive", unknown}).code, 4);
  EXPECT_EQ(ctl({"keys", "sign", unknown, "--hash", kHash}).code, 4);

  const std::string id = str(create(), "id");
  const CtlRun bad_hash = ctl({"keys", "sign", id, "--hash", "0x1234"});
  EXPECT_EQ(bad_hash.code, 7) << bad_hash;
  EXPECT_FALSE(bad_hash.err.empty());
  const CtlRun wrong_pair = ctl({"keys", "create", "--scheme", "EdDSA", "--curve", "secp256k1"});
  EXPECT_EQ(wrong_pair.code, 7) << wrong_pair;

  // Usage errors, caught before any request.
  EXPECT_EQ(ctl({"keys", "create", "--scheme", "RSA", "--curve", "secp256k1"}).code, 2);
  EXPECT_EQ(ctl({"keys", "create", "--curve", "secp256k1"}).code, 2);
  EXPECT_EQ(ctl({"keys", "list", "--limit", "0"}).code, 2);
  EXPECT_EQ(ctl({"keys"}).code, 2);
  EXPECT_EQ(ctl({"frobnicate"}).code, 2);
  const CtlRun on_argv = ctl({"--token", "not-a-real-token", "status"});
  EXPECT_EQ(on_argv.code, 2) << on_argv;
  EXPECT_NE(on_argv.err.find("--token-file"), std::string::npos) << on_argv;

  // No daemon behind the socket: 5.
  const CtlRun gone = ctl_raw({"--socket", (scratch_.path() / "nothing.sock").string(), "status"});
  EXPECT_EQ(gone.code, 5) << gone;
  EXPECT_NE(gone.err.find("nothing.sock"), std::string::npos) << gone;
  EXPECT_EQ(ctl_raw({"--socket", (scratch_.path() / "nothing.sock").string(), "keys", "list"}).code, 5);
}

TEST_F(SignerctlTest, HelpDocumentsEveryCommandAndTheExitCodes) {
  const CtlRun help = run_signerctl({"--help"});
  EXPECT_EQ(help.code, 0) << help;
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos) << help;
  EXPECT_NE(help.out.find("7  bad request"), std::string::npos) << help;
  EXPECT_NE(help.out.find("8  audit verify"), std::string::npos) << help;
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"status"},
                                              {"keys"},
                                              {"keys", "create"},
                                              {"keys", "list"},
                                              {"keys", "get"},
                                              {"keys", "rename"},
                                              {"keys", "archive"},
                                              {"keys", "sign"},
                                              {"wallets"},
                                              {"wallets", "create"},
                                              {"wallets", "list"},
                                              {"wallets", "get"},
                                              {"wallets", "delegate"},
                                              {"service-accounts"},
                                              {"service-accounts", "create"},
                                              {"service-accounts", "list"},
                                              {"service-accounts", "revoke"},
                                              {"service-accounts", "deactivate"},
                                              {"service-accounts", "activate"},
                                              {"users"},
                                              {"users", "create"},
                                              {"users", "list"},
                                              {"permissions"},
                                              {"permissions", "list"},
                                              {"permissions", "create"},
                                              {"permissions", "assign"},
                                              {"permissions", "revoke"},
                                              {"audit"},
                                              {"audit", "tail"},
                                              {"audit", "verify"},
                                              {"hsm"},
                                              {"hsm", "check"},
                                              {"hsm", "init-token"}}) {
    auto args = cmd;
    args.push_back("--help");
    const CtlRun r = run_signerctl(args);
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r;
  }
}

TEST_F(SignerctlTest, TcpTakesAServiceAccountTokenFromAFile) {
  start();
  const auto sa = create_service_account("tcp-client");
  const auto good = sa.token_file;
  create("ECDSA", "secp256r1");  // over the socket
  const CtlRun listed = ctl_tcp({"--json", "keys", "list"}, good);
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_EQ(listed.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(ctl_tcp({"status"}, good).code, 0);
  EXPECT_EQ(ctl_tcp({"service-accounts", "list"}, good).code, 0);
  EXPECT_EQ(ctl_tcp({"permissions", "list"}, good).code, 0);

  // A token holder must sign every change: without --cred-id and --credential-key-file a change stops before
  // anything is sent (2), naming them and the Unix socket (signerctl_remote_test.cc signs them).
  const auto pem = public_key_file("over-tcp").string();
  for (const std::vector<std::string>& change :
       {std::vector<std::string>{"keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"},
        {"wallets", "create", "--network", "Ethereum"},
        {"service-accounts", "create", "--name", "over-tcp", "--public-key-file", pem, "--admin"},
        {"service-accounts", "revoke", sa.user_id},
        {"service-accounts", "deactivate", sa.user_id},
        {"service-accounts", "activate", sa.user_id},
        {"users", "create", "--email", "carol@example.com", "--kind", "EndUser"},
        {"permissions", "create", "--name", "p", "--operation", "Keys:Read"},
        {"permissions", "assign", "pm-x", sa.user_id},
        {"permissions", "revoke", "pm-x", "as-x"}}) {
    const CtlRun r = ctl_tcp(change, good);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_NE(r.err.find("user-action signing"), std::string::npos) << r;
    EXPECT_NE(r.err.find("--credential-key-file"), std::string::npos) << r;
    EXPECT_NE(r.err.find("--cred-id"), std::string::npos) << r;
    EXPECT_NE(r.err.find("Unix socket"), std::string::npos) << r;
  }
  const CtlRun accounts = ctl({"--json", "service-accounts", "list"});
  ASSERT_EQ(accounts.code, 0) << accounts;
  EXPECT_EQ(accounts.json().at("items").as_array().size(), 1u) << accounts;
  const CtlRun keys = ctl({"--json", "keys", "list"});
  ASSERT_EQ(keys.code, 0) << keys;
  EXPECT_EQ(keys.json().at("items").as_array().size(), 1u) << keys;
  // Nothing of it reached the daemon: the audit trail holds no change by the account.
  const CtlRun audit = ctl({"--json", "audit", "tail", "-n", "500"});
  ASSERT_EQ(audit.code, 0) << audit;
  const auto records = audit.json();
  for (const auto& record : records.at("items").as_array()) {
    EXPECT_NE(str(record, "principalId"), sa.user_id) << json::serialize(record);
  }

  const auto wrong = scratch_.path() / "wrong-token";
  write_text(wrong, "0123456789abcdef0123456789abcdef\n");
  std::filesystem::permissions(wrong, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const CtlRun refused = ctl_tcp({"keys", "list"}, wrong);
  EXPECT_EQ(refused.code, 6) << refused;
  EXPECT_FALSE(refused.err.empty());
  const CtlRun no_token = ctl_raw({"--url", "http://127.0.0.1:" + std::to_string(daemon_->port()), "keys", "list"});
  EXPECT_EQ(no_token.code, 6) << no_token;
  EXPECT_NE(no_token.err.find("--token-file"), std::string::npos) << no_token;

  // A token file other users can read is refused, and --token-file only goes with --url.
  std::filesystem::permissions(wrong, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  EXPECT_EQ(ctl_tcp({"keys", "list"}, wrong).code, 2);
  EXPECT_EQ(ctl({"--token-file", good.string(), "keys", "list"}).code, 2);
  EXPECT_EQ(ctl_raw({"--url", "ftp://127.0.0.1:1", "status"}).code, 2);
  // Nothing listening on the port: 5.
  const CtlRun closed = ctl_raw({"--url", "http://127.0.0.1:" + std::to_string(DaemonProcess::free_port()),
                                 "--token-file", good.string(), "status"});
  EXPECT_EQ(closed.code, 5) << closed;
}

TEST_F(SignerctlTest, ServiceAccountsAreCreatedListedDeactivatedAndRevoked) {
  start();
  const auto sa = create_service_account("ci-bot");
  ASSERT_EQ(sa.user_id.rfind("us-", 0), 0u) << sa.reply;
  EXPECT_FALSE(sa.cred_id.empty()) << sa.reply;
  // The token is in the file only (0600, a JWT); the --json reply leaves it out.
  using std::filesystem::perms;
  EXPECT_EQ(std::filesystem::status(sa.token_file).permissions() & perms::all, perms::owner_read | perms::owner_write);
  ASSERT_FALSE(tokens_.empty());
  const std::string token = tokens_.back();
  EXPECT_EQ(token.rfind("eyJ", 0), 0u);
  EXPECT_EQ(read_text(sa.token_file), token + "\n");
  EXPECT_EQ(json::serialize(sa.reply).find(token), std::string::npos);
  EXPECT_FALSE(has(sa.reply.at("accessTokens").at(0), "accessToken")) << sa.reply;
  EXPECT_EQ(str(sa.reply.at("userInfo").at("permissionAssignments").at(0), "permissionName"), "Admin") << sa.reply;

  // Without --token-out the token is printed, with the warning that this is the only time.
  const CtlRun printed = ctl({"service-accounts", "create", "--name", "printed", "--public-key-file",
                              public_key_file("printed").string(), "--days-valid", "30"});
  ASSERT_EQ(printed.code, 0) << printed;
  EXPECT_NE(printed.out.find("shown only this once"), std::string::npos) << printed;
  const auto at = printed.out.find("accessToken  eyJ");
  ASSERT_NE(at, std::string::npos) << printed;
  const auto begin = at + std::string("accessToken  ").size();
  tokens_.push_back(printed.out.substr(begin, printed.out.find('\n', begin) - begin));
  EXPECT_NE(printed.out.find("userId"), std::string::npos) << printed;
  EXPECT_NE(printed.out.find("tokenId"), std::string::npos) << printed;

  // --token-out never overwrites, and nothing is created then; a taken name is 3, leaving no token file behind.
  const auto pem = public_key_file("again").string();
  const CtlRun exists = ctl({"service-accounts", "create", "--name", "again", "--public-key-file", pem, "--token-out",
                             sa.token_file.string()});
  EXPECT_EQ(exists.code, 2) << exists;
  EXPECT_EQ(read_text(sa.token_file), token + "\n");
  const auto dup_file = scratch_.path() / "dup.token";
  const CtlRun dup = ctl(
      {"service-accounts", "create", "--name", "ci-bot", "--public-key-file", pem, "--token-out", dup_file.string()});
  EXPECT_EQ(dup.code, 3) << dup;
  EXPECT_FALSE(std::filesystem::exists(dup_file));
  EXPECT_EQ(ctl({"service-accounts", "create", "--name", "np", "--public-key-file", pem, "--permission",
                 "pm-aaaaa-bbbbb-cccccccccccccc"})
                .code,
            4);
  // A private key is never sent.
  const auto private_key = scratch_.path() / "private.pem";
  write_text(private_key, TestCredential::p256().private_pem());
  const CtlRun secret = ctl({"service-accounts", "create", "--name", "secret", "--public-key-file", private_key});
  EXPECT_EQ(secret.code, 2) << secret;
  EXPECT_NE(secret.err.find("private key"), std::string::npos) << secret;

  const CtlRun listed = ctl({"--json", "service-accounts", "list"});
  ASSERT_EQ(listed.code, 0) << listed;
  std::set<std::string> names;
  const auto accounts = listed.json();
  for (const auto& item : accounts.at("items").as_array()) names.insert(str(item.at("userInfo"), "name"));
  EXPECT_EQ(names, (std::set<std::string>{"ci-bot", "printed"})) << listed;
  const CtlRun table = ctl({"service-accounts", "list"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table;
  EXPECT_NE(table.out.find(sa.user_id), std::string::npos) << table;
  EXPECT_NE(table.out.find("Admin"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 3) << table;

  // Deactivated: its token gets 401 until activated again.
  ASSERT_EQ(ctl_tcp({"keys", "list"}, sa.token_file).code, 0);
  const CtlRun off = ctl({"--json", "service-accounts", "deactivate", sa.user_id});
  ASSERT_EQ(off.code, 0) << off;
  EXPECT_FALSE(off.json().at("userInfo").at("isActive").as_bool()) << off;
  EXPECT_EQ(ctl_tcp({"keys", "list"}, sa.token_file).code, 6);
  const CtlRun on = ctl({"service-accounts", "activate", sa.user_id});
  ASSERT_EQ(on.code, 0) << on;
  EXPECT_NE(on.out.find("Active"), std::string::npos) << on;
  EXPECT_EQ(ctl_tcp({"keys", "list"}, sa.token_file).code, 0);

  // Revoked: archived, its tokens dead for good (401: exit 6).
  const CtlRun revoked = ctl({"service-accounts", "revoke", sa.user_id});
  ASSERT_EQ(revoked.code, 0) << revoked;
  EXPECT_NE(revoked.out.find("Archived"), std::string::npos) << revoked;
  EXPECT_NE(revoked.out.find("(inactive)"), std::string::npos) << revoked;
  const CtlRun after = ctl_tcp({"keys", "list"}, sa.token_file);
  EXPECT_EQ(after.code, 6) << after;
  EXPECT_NE(after.err.find("HTTP 401"), std::string::npos) << after;
  EXPECT_EQ(ctl({"service-accounts", "revoke", "us-aaaaa-bbbbb-cccccccccccccc"}).code, 4);
}

TEST_F(SignerctlTest, PermissionsAreCreatedAssignedAndRevoked) {
  start();
  const CtlRun builtin = ctl({"--json", "permissions", "list"});
  ASSERT_EQ(builtin.code, 0) << builtin;
  bool admin_found = false;
  const auto permissions = builtin.json();
  for (const auto& p : permissions.at("items").as_array()) {
    if (str(p, "name") == "Admin") admin_found = p.at("isImmutable").as_bool();
  }
  EXPECT_TRUE(admin_found) << builtin;

  const CtlRun created = ctl({"--json", "permissions", "create", "--name", "key-readers", "--operation", "Keys:Read",
                              "--operation", "Auth:Logs:Read"});
  ASSERT_EQ(created.code, 0) << created;
  const std::string permission_id = str(created.json(), "id");
  EXPECT_EQ(permission_id.rfind("pm-", 0), 0u) << created;
  std::set<std::string> ops;
  const auto permission = created.json();
  for (const auto& op : permission.at("operations").as_array()) ops.insert(std::string(op.as_string()));
  EXPECT_EQ(ops, (std::set<std::string>{"Keys:Read", "Auth:Logs:Read"}));
  const CtlRun readable =
      ctl({"permissions", "create", "--name", "signers", "--operation", "Keys:Read", "Keys:Signatures:Create"});
  ASSERT_EQ(readable.code, 0) << readable;
  EXPECT_NE(readable.out.find("  Keys:Signatures:Create\n"), std::string::npos) << readable;
  EXPECT_EQ(ctl({"permissions", "create", "--name", "x"}).code, 2);  // no --operation
  const CtlRun table = ctl({"permissions", "list"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find("key-readers"), std::string::npos) << table;
  EXPECT_NE(table.out.find("built-in"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 4) << table;  // header, Admin and two more

  // A service account without a permission may do nothing until one is assigned.
  const auto reader = create_service_account("reader", {});
  EXPECT_EQ(ctl_tcp({"keys", "list"}, reader.token_file).code, 6);
  const CtlRun assigned = ctl({"--json", "permissions", "assign", permission_id, reader.user_id});
  ASSERT_EQ(assigned.code, 0) << assigned;
  const std::string assignment_id = str(assigned.json(), "id");
  EXPECT_EQ(str(assigned.json(), "permissionId"), permission_id);
  EXPECT_EQ(str(assigned.json(), "identityId"), reader.user_id);
  EXPECT_EQ(ctl_tcp({"keys", "list"}, reader.token_file).code, 0);
  EXPECT_EQ(ctl_tcp({"audit", "tail"}, reader.token_file).code, 0);
  EXPECT_EQ(ctl_tcp({"service-accounts", "list"}, reader.token_file).code, 6);  // not among its operations
  const CtlRun accounts = ctl({"service-accounts", "list"});
  EXPECT_NE(accounts.out.find("key-readers"), std::string::npos) << accounts;

  const CtlRun revoked = ctl({"permissions", "revoke", permission_id, assignment_id});
  ASSERT_EQ(revoked.code, 0) << revoked;
  EXPECT_NE(revoked.out.find(assignment_id), std::string::npos) << revoked;
  EXPECT_EQ(ctl_tcp({"keys", "list"}, reader.token_file).code, 6);
  EXPECT_EQ(ctl({"permissions", "assign", "pm-aaaaa-bbbbb-cccccccccccccc", reader.user_id}).code, 4);
}

TEST_F(SignerctlTest, UsersAreCreatedAndListed) {
  start();
  const CtlRun alice = ctl({"--json", "users", "create", "--email", "alice@example.com", "--kind", "EndUser"});
  ASSERT_EQ(alice.code, 0) << alice;
  EXPECT_EQ(str(alice.json(), "userId").rfind("us-", 0), 0u) << alice;
  EXPECT_EQ(str(alice.json(), "kind"), "EndUser");
  EXPECT_EQ(str(alice.json(), "username"), "alice@example.com");
  const CtlRun bob = ctl({"users", "create", "--email", "bob@example.com", "--kind", "CustomerEmployee",
                          "--public-key-file", public_key_file("bob").string()});
  ASSERT_EQ(bob.code, 0) << bob;
  EXPECT_NE(bob.out.find("bob@example.com"), std::string::npos) << bob;
  EXPECT_NE(bob.out.find("credId"), std::string::npos) << bob;
  EXPECT_EQ(ctl({"users", "create", "--email", "x@example.com", "--kind", "Robot"}).code, 2);
  EXPECT_EQ(ctl({"users", "create", "--email", "alice@example.com", "--kind", "EndUser"}).code, 3);

  create_service_account("not-a-user");
  const CtlRun listed = ctl({"--json", "users", "list"});
  ASSERT_EQ(listed.code, 0) << listed;
  std::set<std::string> names;
  const auto users = listed.json();
  for (const auto& u : users.at("items").as_array()) names.insert(str(u, "username"));
  EXPECT_EQ(names, (std::set<std::string>{"alice@example.com", "bob@example.com"})) << listed;
  const CtlRun table = ctl({"users", "list"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find("CustomerEmployee"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 3) << table;
}

TEST_F(SignerctlTest, WalletsAreCreatedListedAndRead) {
  start();
  const CtlRun eth =
      ctl({"--json", "wallets", "create", "--network", "Ethereum", "--name", "hot", "--tag", "a", "--tag", "b"});
  ASSERT_EQ(eth.code, 0) << eth;
  const auto wallet = eth.json();
  const std::string id = str(wallet, "id");
  EXPECT_EQ(id.rfind("wa-", 0), 0u) << eth;
  EXPECT_EQ(str(wallet, "network"), "Ethereum");
  EXPECT_EQ(str(wallet, "name"), "hot");
  EXPECT_EQ(str(wallet, "address").rfind("0x", 0), 0u) << eth;
  EXPECT_EQ(wallet.at("tags"), json::parse(R"(["a","b"])"));
  const std::string key_id = str(wallet.at("signingKey"), "id");
  ASSERT_TRUE(is_key_id(key_id)) << eth;

  const CtlRun got = ctl({"--json", "wallets", "get", id});
  ASSERT_EQ(got.code, 0) << got;
  EXPECT_EQ(got.json(), wallet);
  const CtlRun readable = ctl({"wallets", "get", id});
  ASSERT_EQ(readable.code, 0) << readable;
  EXPECT_NE(readable.out.find(str(wallet, "address")), std::string::npos) << readable;
  EXPECT_NE(readable.out.find(key_id), std::string::npos) << readable;
  EXPECT_NE(readable.out.find("a, b"), std::string::npos) << readable;

  // --key-id: the same key on another network of its curve.
  const CtlRun base = ctl({"--json", "wallets", "create", "--network", "Base", "--key-id", key_id});
  ASSERT_EQ(base.code, 0) << base;
  EXPECT_EQ(str(base.json().at("signingKey"), "id"), key_id);
  EXPECT_EQ(str(base.json(), "address"), str(wallet, "address"));

  const CtlRun page = ctl({"--json", "wallets", "list", "--limit", "1"});
  ASSERT_EQ(page.code, 0) << page;
  ASSERT_EQ(page.json().at("items").as_array().size(), 1u) << page;
  EXPECT_EQ(str(page.json().at("items").at(0), "id"), str(base.json(), "id"));  // newest first
  EXPECT_TRUE(has(page.json(), "nextPageToken")) << page;
  const CtlRun all = ctl({"--json", "wallets", "list", "--limit", "1", "--all"});
  ASSERT_EQ(all.code, 0) << all;
  ASSERT_EQ(all.json().at("items").as_array().size(), 2u) << all;
  EXPECT_EQ(str(all.json().at("items").at(1), "id"), id);
  const CtlRun table = ctl({"wallets", "list"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table;
  EXPECT_NE(table.out.find("Ethereum"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 3) << table;  // header + 2 wallets
  const CtlRun partial = ctl({"wallets", "list", "--limit", "1"});
  ASSERT_EQ(partial.code, 0) << partial;
  EXPECT_NE(partial.err.find("more wallets: use --all"), std::string::npos) << partial;

  // The daemon's refusals keep their exit codes; usage errors stop before any request.
  const CtlRun unsupported = ctl({"wallets", "create", "--network", "Dogecoin"});
  EXPECT_EQ(unsupported.code, 7) << unsupported;
  EXPECT_NE(unsupported.err.find("unsupported network: Dogecoin"), std::string::npos) << unsupported;
  EXPECT_EQ(ctl({"wallets", "get", "wa-aaaaa-bbbbb-cccccccccccccc"}).code, 4);
  EXPECT_EQ(ctl({"wallets", "create", "--network", "Ethereum", "--key-id", "key-aaaaa-bbbbb-cccccccccccccc"}).code, 4);
  EXPECT_EQ(ctl({"wallets", "create", "--name", "x"}).code, 2);  // no --network
  EXPECT_EQ(ctl({"wallets", "create", "--network", "Ethereum", "--key-id", key_id, "--delay-delegation"}).code, 2);
  EXPECT_EQ(ctl({"wallets", "delegate", id}).code, 2);  // no --user
  EXPECT_EQ(ctl({"wallets"}).code, 2);
  EXPECT_EQ(ctl({"--json", "wallets", "list"}).json().at("items").as_array().size(), 2u) << "nothing more was made";
}

TEST_F(SignerctlTest, AWalletIsDelegatedToAnEndUserAndListedByOwner) {
  start();
  const CtlRun alice = ctl({"--json", "users", "create", "--email", "alice@example.com", "--kind", "EndUser"});
  ASSERT_EQ(alice.code, 0) << alice;
  const std::string alice_id = str(alice.json(), "userId");
  const CtlRun created = ctl({"--json", "wallets", "create", "--network", "Solana", "--delay-delegation"});
  ASSERT_EQ(created.code, 0) << created;
  const std::string id = str(created.json(), "id");
  EXPECT_TRUE(created.json().at("custodial").as_bool()) << created;
  ASSERT_EQ(ctl({"wallets", "create", "--network", "Bitcoin"}).code, 0);  // stays the organisation's

  const CtlRun delegated = ctl({"--json", "wallets", "delegate", id, "--user", alice_id});
  ASSERT_EQ(delegated.code, 0) << delegated;
  EXPECT_EQ(str(delegated.json(), "walletId"), id);
  EXPECT_EQ(str(delegated.json(), "status"), "Delegated");
  const CtlRun read = ctl({"--json", "wallets", "get", id});
  ASSERT_EQ(read.code, 0) << read;
  EXPECT_FALSE(read.json().at("custodial").as_bool()) << read;
  EXPECT_EQ(str(read.json().at("signingKey"), "delegatedTo"), alice_id);

  // --owner takes the end user's id or username.
  for (const std::string& owner : {alice_id, std::string("alice@example.com")}) {
    const CtlRun mine = ctl({"--json", "wallets", "list", "--owner", owner});
    ASSERT_EQ(mine.code, 0) << mine;
    ASSERT_EQ(mine.json().at("items").as_array().size(), 1u) << mine;
    EXPECT_EQ(str(mine.json().at("items").at(0), "id"), id);
  }
  const CtlRun nobody = ctl({"--json", "wallets", "list", "--owner", "nobody@example.com"});
  ASSERT_EQ(nobody.code, 0) << nobody;
  EXPECT_TRUE(nobody.json().at("items").as_array().empty()) << nobody;

  // Delegation is one-way (the organisation no longer controls the key: 403), and only to an end user (400).
  const CtlRun again = ctl({"wallets", "delegate", id, "--user", alice_id});
  EXPECT_EQ(again.code, 6) << again;
  const CtlRun custodial = ctl({"--json", "wallets", "create", "--network", "Ethereum", "--delay-delegation"});
  ASSERT_EQ(custodial.code, 0) << custodial;
  const CtlRun not_end_user =
      ctl({"wallets", "delegate", str(custodial.json(), "id"), "--user", "us-aaaaa-bbbbb-cccccccccccccc"});
  EXPECT_EQ(not_end_user.code, 7) << not_end_user;

  // Over TCP a token holder reads wallets; a change needs a user-action signature, here without the credential.
  const auto sa = create_service_account("wallet-reader");
  const CtlRun listed = ctl_tcp({"--json", "wallets", "list"}, sa.token_file);
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_EQ(listed.json().at("items").as_array().size(), 3u) << listed;
  const CtlRun change = ctl_tcp({"wallets", "create", "--network", "Ethereum"}, sa.token_file);
  EXPECT_EQ(change.code, 2) << change;
  EXPECT_NE(change.err.find("--credential-key-file"), std::string::npos) << change;
}

TEST_F(SignerctlTest, AuditTailShowsTheNewestRecordsAndVerifyChecksTheChain) {
  start();
  const std::string id = str(create(), "id");
  ASSERT_EQ(ctl({"keys", "rename", id, "--name", "audited"}).code, 0);
  ASSERT_EQ(ctl({"keys", "sign", id, "--hash", kHash}).code, 0);
  EXPECT_EQ(ctl({"keys", "get", "key-aaaaa-bbbbb-cccccccccccccc"}).code, 4);  // a read: not audited

  const CtlRun all = ctl({"--json", "audit", "tail", "-n", "100"});
  ASSERT_EQ(all.code, 0) << all;
  const auto records = all.json();
  const auto& items = records.at("items").as_array();
  ASSERT_GE(items.size(), 3u) << all;
  const auto newest = items.at(0).at("seq").to_number<std::int64_t>();
  EXPECT_EQ(newest, static_cast<std::int64_t>(items.size())) << all;
  EXPECT_EQ(str(items.at(0), "path"), "/keys/" + id + "/signatures");
  EXPECT_EQ(str(items.at(0), "outcome"), "ok");

  const CtlRun tail = ctl({"audit", "tail", "-n", "2"});
  ASSERT_EQ(tail.code, 0) << tail;
  std::vector<std::string> lines;
  std::istringstream in(tail.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << tail;  // a header, then oldest first
  EXPECT_EQ(lines[0].rfind("SEQ", 0), 0u) << tail;
  EXPECT_EQ(lines[1].rfind(std::to_string(newest - 1) + " ", 0), 0u) << tail;
  EXPECT_EQ(lines[2].rfind(std::to_string(newest) + " ", 0), 0u) << tail;
  EXPECT_NE(lines[1].find("PUT"), std::string::npos) << tail;
  EXPECT_NE(lines[2].find("/keys/" + id + "/signatures"), std::string::npos) << tail;

  const CtlRun verify = ctl({"audit", "verify"});
  ASSERT_EQ(verify.code, 0) << verify;
  EXPECT_EQ(verify.out,
            "audit chain OK: " + std::to_string(items.size()) + " records, head " + str(items.at(0), "hash") + "\n");
  const CtlRun verify_json = ctl({"--json", "audit", "verify"});
  ASSERT_EQ(verify_json.code, 0) << verify_json;
  EXPECT_TRUE(verify_json.json().at("ok").as_bool());
  EXPECT_EQ(str(verify_json.json(), "head"), str(items.at(0), "hash"));
  // A token holder with Auth:Logs:Read verifies it over TCP too.
  const auto sa = create_service_account("auditor");
  EXPECT_EQ(ctl_tcp({"audit", "verify"}, sa.token_file).code, 0);
}

TEST_F(SignerctlTest, AuditVerifyFollowsEveryPage) {
  // Pages of 2 at most: verify's own page size (500) is refused, so it pages at the daemon's.
  start({.extra_config = "[limits]\nmax_page_size = 2\ndefault_page_size = 2\n"});
  for (int i = 0; i < 3; ++i) create();
  const CtlRun page = ctl({"--json", "audit", "tail", "-n", "2"});
  ASSERT_EQ(page.code, 0) << page;
  EXPECT_TRUE(has(page.json(), "nextPageToken")) << page;
  const CtlRun verify = ctl({"--json", "audit", "verify"});
  ASSERT_EQ(verify.code, 0) << verify;
  EXPECT_GE(verify.json().at("records").to_number<int>(), 3) << verify;
  EXPECT_TRUE(verify.json().at("ok").as_bool()) << verify;
}

TEST_F(SignerctlTest, AuditVerifyFindsARecordAlteredInTheDatabase) {
  start();
  for (int i = 0; i < 3; ++i) create();
  ASSERT_EQ(ctl({"audit", "verify"}).code, 0);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(daemon_->db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, "UPDATE audit SET outcome = 'tampered' WHERE seq = 2", nullptr, nullptr, &error);
    const int changed = sqlite3_changes(db);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
    ASSERT_EQ(changed, 1);
  }
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  const CtlRun broken = ctl({"audit", "verify"});
  EXPECT_EQ(broken.code, 8) << broken;
  EXPECT_EQ(broken.out.rfind("audit chain BROKEN at record 2: ", 0), 0u) << broken;
  const CtlRun broken_json = ctl({"--json", "audit", "verify"});
  EXPECT_EQ(broken_json.code, 8) << broken_json;
  EXPECT_FALSE(broken_json.json().at("ok").as_bool()) << broken_json;
  EXPECT_EQ(broken_json.json().at("brokenAt").to_number<int>(), 2) << broken_json;
  const CtlRun tail = ctl({"audit", "tail"});
  EXPECT_NE(tail.out.find("tampered"), std::string::npos) << tail;
}

TEST_F(SignerctlTest, UnixPeersOutsideTheAllowListGet6) {
  start({.extra_config = "[auth]\nunix_allowed_uids = [" + std::to_string(::getuid() + 4242) + "]\n"});
  const CtlRun r = ctl({"keys", "list"});
  EXPECT_EQ(r.code, 6) << r;
}

TEST_F(SignerctlTest, HsmCheckFindsTheMechanismsAndFlagsExtractableKeys) {
  start();
  const auto pin_file = daemon_->token().write_pin_file(daemon_->token().pin());
  auto args = hsm_check_args();
  args.insert(args.end(), {"--pin-file", pin_file.string()});
  auto json_args = args;
  json_args.insert(json_args.begin(), "--json");
  // The daemon's own keys (its token-signing key) count too: three more after three creates.
  const CtlRun before = ctl_raw(json_args);
  ASSERT_EQ(before.code, 0) << before;
  const int daemon_keys = before.json().at("scan").at("privateKeysScanned").to_number<int>();
  create("ECDSA", "secp256k1");
  create("ECDSA", "secp256r1");
  create("EdDSA", "ed25519");

  const CtlRun r = ctl_raw(json_args);
  ASSERT_EQ(r.code, 0) << r;
  const auto v = r.json();
  EXPECT_TRUE(v.at("ok").as_bool()) << r;
  EXPECT_FALSE(str(v.at("library"), "description").empty()) << r;
  EXPECT_FALSE(str(v, "cryptokiVersion").empty()) << r;
  EXPECT_TRUE(v.at("token").at("found").as_bool());
  EXPECT_EQ(str(v.at("token"), "label"), daemon_->token().label());
  std::set<std::string> offered;
  for (const auto& m : v.at("mechanisms").as_array()) {
    if (m.at("offered").as_bool()) offered.insert(str(m, "name"));
  }
  EXPECT_EQ(offered,
            (std::set<std::string>{"CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA", "CKM_EC_EDWARDS_KEY_PAIR_GEN", "CKM_EDDSA"}))
      << r;
  EXPECT_EQ(str(v.at("login"), "outcome"), "ok");
  EXPECT_EQ(v.at("scan").at("privateKeysScanned").to_number<int>(), daemon_keys + 3) << r;
  EXPECT_TRUE(v.at("findings").as_array().empty()) << r;
  bool selected = false;
  for (const auto& s : v.at("slots").as_array()) selected = selected || s.at("selected").as_bool();
  EXPECT_TRUE(selected) << r;

  const CtlRun text = ctl_raw(args);
  EXPECT_EQ(text.code, 0) << text;
  EXPECT_NE(text.out.find("CKM_EC_EDWARDS_KEY_PAIR_GEN"), std::string::npos) << text;
  EXPECT_NE(text.out.find("login         ok"), std::string::npos) << text;
  EXPECT_NE(text.out.find("result        ok"), std::string::npos) << text;

  // Without a PIN: no login, no scan, still fine.
  const CtlRun no_pin = ctl_raw(hsm_check_args());
  EXPECT_EQ(no_pin.code, 0) << no_pin;
  EXPECT_NE(no_pin.out.find("not checked"), std::string::npos) << no_pin;

  // A wrong PIN is refused (6); an unknown token is not found (4) and the report names the tokens present.
  const auto wrong_pin = scratch_.path() / "wrong.pin";
  {
    std::ofstream out(wrong_pin);
    out << "999999\n";
  }
  std::filesystem::permissions(wrong_pin, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto wrong_args = hsm_check_args();
  wrong_args.insert(wrong_args.end(), {"--pin-file", wrong_pin.string()});
  const CtlRun refused = ctl_raw(wrong_args);
  EXPECT_EQ(refused.code, 6) << refused;
  EXPECT_NE(refused.err.find("PIN incorrect"), std::string::npos) << refused;
  const CtlRun unknown = ctl_raw({"hsm", "check", "--module", SoftHsmToken::module_path(), "--token-label", "nope"});
  EXPECT_EQ(unknown.code, 4) << unknown;
  EXPECT_NE(unknown.err.find(daemon_->token().label()), std::string::npos) << unknown;
  EXPECT_EQ(ctl_raw({"hsm", "check", "--module", SoftHsmToken::module_path()}).code, 2);  // no token selector
  EXPECT_EQ(ctl_raw({"hsm", "check", "--module", "/nonexistent/libp11.so", "--token-label", "x"}).code, 1);

  // An extractable key made behind signerd's back (pkcs11-tool sets CKA_EXTRACTABLE from --extractable; SoftHSM
  // honours it) is a finding.
  if (std::system("command -v pkcs11-tool >/dev/null 2>&1") != 0) GTEST_SKIP() << "pkcs11-tool is not installed";
  const std::string keygen = "pkcs11-tool --module '" + SoftHsmToken::module_path() + "' --token-label '" +
                             daemon_->token().label() + "' --login --pin '" + daemon_->token().pin() +
                             "' --keypairgen --key-type EC:secp256k1 --label leaky --id 4c45414b --usage-sign "
                             "--extractable >/dev/null 2>&1";
  ASSERT_EQ(std::system(keygen.c_str()), 0) << keygen;
  const CtlRun finding = ctl_raw(json_args);
  EXPECT_EQ(finding.code, 1) << finding;
  const auto f = finding.json();
  EXPECT_FALSE(f.at("ok").as_bool());
  EXPECT_EQ(f.at("scan").at("privateKeysScanned").to_number<int>(), daemon_keys + 4) << finding;
  ASSERT_EQ(f.at("findings").as_array().size(), 1u) << finding;
  const auto& leaky = f.at("findings").at(0);
  EXPECT_EQ(str(leaky, "label"), "leaky");
  EXPECT_EQ(str(leaky, "id"), "4c45414b");
  EXPECT_EQ(str(leaky, "keyType"), "EC");
  bool extractable = false;
  for (const auto& p : leaky.at("problems").as_array())
    extractable = extractable || p.as_string() == "CKA_EXTRACTABLE=true";
  EXPECT_TRUE(extractable) << finding;
  const CtlRun finding_text = ctl_raw(args);
  EXPECT_EQ(finding_text.code, 1);
  EXPECT_NE(finding_text.out.find("FINDING"), std::string::npos) << finding_text;
  EXPECT_NE(finding_text.err.find("can leave the token"), std::string::npos) << finding_text;
}

}  // namespace
}  // namespace signerd::testing
