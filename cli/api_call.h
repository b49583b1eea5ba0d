#pragma once
// What every signerctl command that talks to the daemon shares: the connection (DaemonContext), sending a request,
// and showing the reply — the daemon's JSON as is with --json, readable lines otherwise; on an error the daemon's
// error.message on stderr and the exit code of cli/exit_codes.h.
#include <boost/json/value.hpp>

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/http_client.h"
#include "cli/user_action.h"

namespace signerd::cli {

struct DaemonContext {
  HttpClient client;
  bool json = false;
  std::optional<CredentialSigner> signer;  // --cred-id and --credential-key-file: signs user actions over TCP
};

// stdout, with a newline added when missing.
void print_out(std::string_view text);
// "signerctl: <message>" on stderr.
void print_err(const std::string& message);

std::optional<boost::json::value> parse_json(std::string_view body);
// v[key] when v is an object that has it.
const boost::json::value* find(const boost::json::value& v, std::string_view key);
// A string as is, null as "null", anything else as JSON.
std::string scalar_text(const boost::json::value& v);
// scalar_text(v[key]); empty when absent.
std::string field(const boost::json::value& v, std::string_view key);

// A request that failed below HTTP (no connection, timeout, unparseable reply): prints why, returns the exit code.
int transport_failure(const Error& error);
// A reply other than 2xx to a request for `target`: prints the daemon's error.message (with its reason, when given),
// the status and error id (with --json also the error body on stdout), and a hint when the cause is likely
// signerctl's side (no token, apps over TCP, a credential key that does not match). Returns the exit code.
int http_failure(const DaemonContext& ctx, const HttpResponse& response, std::string_view target);

// Sends one request as the context's caller and returns the daemon's reply, whatever its status. A change over TCP
// by a token holder (user_action_required) first gets its user action, signed with ctx.signer; without a signer
// nothing is sent and the error names --cred-id and --credential-key-file (exit 2). A failure before the reply (the
// transport, a user-action step the daemon refused) is reported here and returned as the exit code.
std::expected<HttpResponse, int> send(const DaemonContext& ctx, std::string_view method, const std::string& target,
                                      const std::optional<std::string>& body = std::nullopt);
// For commands that send more than one request: exit 2 (after saying why) when `method` `path` will need a user
// action ctx cannot sign, so that nothing is sent at all; nullopt otherwise.
std::optional<int> refuse_unsigned_change(const DaemonContext& ctx, std::string_view method, std::string_view path);

// "name  value" lines, names aligned; empty values are left out.
using Fields = std::vector<std::pair<std::string, std::string>>;
void print_fields(const Fields& fields);
// A header and rows, columns aligned (two spaces apart), no trailing blanks.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// Sends the request; on 2xx prints the body as is (--json) or through `print` (readable), else reports the error.
// Returns the exit code.
int exchange(const DaemonContext& ctx, std::string_view method, const std::string& target,
             const std::optional<std::string>& body, const std::function<void(const boost::json::value&)>& print);

// A paginated list (GET /keys, GET /wallets ...): one page, or with `all` every page, following nextPageToken.
struct ListArgs {
  std::optional<unsigned> limit;          // page size; the daemon's default when unset
  std::optional<std::string> page_token;  // start at this nextPageToken
  bool all = false;
  std::vector<std::string> query;  // further "name=value" parameters, already percent-encoded
};
// Prints one page as the daemon sent it (--json), or `print_rows` of the items gathered; with --json and `all`,
// {"items":[...]}. When a page remains, stderr says how to get it ("more <noun>: use --all, ..."). Returns the exit
// code.
int list_pages(const DaemonContext& ctx, const std::string& path, const ListArgs& args, std::string_view noun,
               const std::function<void(const std::vector<boost::json::value>&)>& print_rows);

// Sends the request and returns the parsed 2xx reply; else reports the failure (as exchange does) and returns its
// exit code. A 2xx reply that is not JSON is kExitFailed.
std::expected<boost::json::value, int> fetch_json(const DaemonContext& ctx, std::string_view method,
                                                  const std::string& target,
                                                  const std::optional<std::string>& body = std::nullopt);

}  // namespace signerd::cli
