// The built signerctl over --url against the built daemon serving TLS on its TCP port (certificates from
// tests/support/test_pki.h): https with --cacert, and every change signed with the service account's credential
// (Dfns user-action signing: --cred-id, --credential-key-file). Checked from the daemon's side too, over its Unix
// socket: the keys' state and the audit trail, which names the account and the credential behind each change. And
// the refusals: a CA that did not issue the daemon's certificate, a certificate for another host, a key file other
// users can read, a change without the credential, a credential the account does not have; apps over --url. And a
// daemon that requires client certificates (tls_client_ca_file): --cert and --key, and what happens without them.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <set>

#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"
#include "tests/support/signerctl_run.h"
#include "tests/support/test_pki.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;

const std::string kHash = "0x" + std::string(62, '3') + "ef";

// A service account made over the Unix socket, its token and its credential's private key in files (mode 0600).
struct RemoteAccount {
  std::string user_id;
  std::string cred_id;
  std::filesystem::path token_file;
  std::filesystem::path key_file;
  std::string token;  // never on a command line
  std::string private_pem;
};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), 0600);
}

class SignerctlRemoteTest : public DaemonFixture {
 protected:
  // The daemon with TLS on TCP, serving the certificate `server` of pki_; with `client_ca`, it requires client
  // certificates issued by pki_'s "ca".
  void start_tls(const std::string& server = "server", bool client_ca = false) {
    start({.listen_config = pki_.listen_config(client_ca, server)});
  }

  // pki_'s client certificate `name` and a copy of its key in a file only we can read, as --cert/--key arguments.
  std::vector<std::string> client_certificate(const std::string& name, const std::string& key_of = "") {
    const auto key_file = scratch_.path() / (name + "-client.key");
    write_private_file(key_file, read_text(pki_.key(key_of.empty() ? name : key_of)));
    return {"--cert", pki_.cert(name).string(), "--key", key_file.string()};
  }
  std::string url(const std::string& scheme = "https", const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(daemon_->port());
  }

  // POST /auth/service-accounts as the local administrator, with `credential`'s public key and, when `admin`, the
  // built-in Admin permission.
  RemoteAccount make_account(const std::string& name, const TestCredential& credential, bool admin = true) {
    auto socket = daemon_->unix_client();
    json::object body{{"name", name}, {"publicKey", credential.public_pem()}};
    if (admin) body["permissionId"] = admin_permission_id(socket);
    const auto r = socket.request("POST", "/auth/service-accounts", json::serialize(body));
    EXPECT_EQ(r.status, 200) << r.body;
    RemoteAccount a;
    const auto doc = r.json();
    if (r.status != 200) return a;
    a.user_id = str(doc.at("userInfo"), "userId");
    const auto& token = doc.at("accessTokens").at(0);
    a.cred_id = str(token, "credId");
    a.token = str(token, "accessToken");
    a.private_pem = credential.private_pem();
    a.token_file = scratch_.path() / (name + ".token");
    a.key_file = scratch_.path() / (name + ".key");
    write_private_file(a.token_file, a.token + "\n");
    write_private_file(a.key_file, a.private_pem);
    secrets_.push_back(a.token);
    return a;
  }

  // signerctl with `args`; neither a token nor a private key may be among them, nor in what it prints.
  CtlRun ctl_checked(const std::vector<std::string>& args) {
    for (const auto& a : args) {
      for (const auto& secret : secrets_) EXPECT_EQ(a.find(secret), std::string::npos) << a;
    }
    CtlRun r = run_signerctl(args);
    for (const auto& secret : secrets_) {
      EXPECT_EQ(r.out.find(secret), std::string::npos) << r;
      EXPECT_EQ(r.err.find(secret), std::string::npos) << r;
    }
    EXPECT_EQ(r.out.find("PRIVATE KEY"), std::string::npos) << r;
    EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos) << r;
    return r;
  }

  // signerctl over https (trusting pki_'s CA) as `a`, signing changes with its credential.
  CtlRun remote(const RemoteAccount& a, std::vector<std::string> args, const std::string& base_url = "") {
    args.insert(args.begin(),
                {"--url", base_url.empty() ? url() : base_url, "--cacert", pki_.cert("ca").string(), "--token-file",
                 a.token_file.string(), "--cred-id", a.cred_id, "--credential-key-file", a.key_file.string()});
    return ctl_checked(args);
  }

  // The audit records of changes made by `user_id`: "METHOD path" -> the credential that signed it.
  std::map<std::string, std::string> changes_by(const std::string& user_id) {
    auto socket = daemon_->unix_client();
    const auto r = socket.request("GET", "/audit?limit=500");
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, std::string> out;
    if (r.status != 200) return out;
    const auto page = r.json();
    for (const auto& record : page.at("items").as_array()) {
      if (str(record, "principalId") != user_id || str(record, "method") == "GET") continue;
      out[str(record, "method") + " " + str(record, "path")] = str(record, "credentialId");
    }
    return out;
  }

  // The number of keys the daemon holds, asked over the Unix socket.
  std::size_t key_count() {
    auto socket = daemon_->unix_client();
    const auto r = socket.request("GET", "/keys?limit=500");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json().at("items").as_array().size() : 0;
  }

  TestPki pki_;
  TempDir scratch_;
  std::vector<std::string> secrets_;  // tokens and private keys made here
};

TEST_F(SignerctlRemoteTest, KeysAreCreatedListedSignedAndArchivedOverHttpsWithUserActions) {
  start_tls();
  const auto sa = make_account("remote-ops", TestCredential::p256());
  secrets_.push_back(sa.private_pem);

  const CtlRun created =
      remote(sa, {"--json", "keys", "create", "--scheme", "ECDSA", "--curve", "secp256k1", "--name", "remote"});
  ASSERT_EQ(created.code, 0) << created;
  const std::string id = str(created.json(), "id");
  ASSERT_EQ(id.rfind("key-", 0), 0u) << created;
  EXPECT_EQ(str(created.json(), "status"), "Active") << created;
  EXPECT_EQ(str(created.json(), "name"), "remote") << created;

  const CtlRun listed = remote(sa, {"--json", "keys", "list"});
  ASSERT_EQ(listed.code, 0) << listed;
  ASSERT_EQ(listed.json().at("items").as_array().size(), 1u) << listed;
  EXPECT_EQ(str(listed.json().at("items").at(0), "id"), id);
  // The readable table too, and by host name: the certificate names localhost as well (SNI, DNS name checked).
  const CtlRun table = remote(sa, {"keys", "list"}, url("https", "localhost"));
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find(id), std::string::npos) << table;

  const CtlRun renamed = remote(sa, {"--json", "keys", "rename", id, "--name", "vault"});
  ASSERT_EQ(renamed.code, 0) << renamed;
  EXPECT_EQ(str(renamed.json(), "name"), "vault");

  const CtlRun signed_run = remote(sa, {"--json", "keys", "sign", id, "--hash", kHash});
  ASSERT_EQ(signed_run.code, 0) << signed_run;
  const auto sig = signed_run.json();
  EXPECT_EQ(str(sig, "status"), "Signed") << signed_run;
  EXPECT_EQ(str(sig, "keyId"), id);
  EXPECT_EQ(str(sig.at("requestBody"), "hash"), kHash);
  EXPECT_EQ(str(sig.at("signature"), "r").size(), 66u) << signed_run;
  EXPECT_EQ(str(sig.at("signature"), "s").size(), 66u) << signed_run;

  const CtlRun archived = remote(sa, {"--json", "keys", "archive", id});
  ASSERT_EQ(archived.code, 0) << archived;
  EXPECT_EQ(str(archived.json(), "status"), "Archived") << archived;
  const CtlRun after = remote(sa, {"keys", "sign", id, "--hash", kHash});
  EXPECT_EQ(after.code, 7) << after;

  // The daemon's side: the key is archived, and each change is the account's, signed by its credential.
  auto socket = daemon_->unix_client();
  EXPECT_EQ(str(socket.request("GET", "/keys/" + id).json(), "status"), "Archived");
  const auto changes = changes_by(sa.user_id);
  for (const auto& change :
       {std::string("POST /keys"), "PUT /keys/" + id, "POST /keys/" + id + "/signatures", "DELETE /keys/" + id}) {
    ASSERT_TRUE(changes.contains(change)) << change;
    EXPECT_EQ(changes.at(change), sa.cred_id) << change;
  }
}

TEST_F(SignerctlRemoteTest, Ed25519CredentialsSignIdentityAndWalletChanges) {
  start_tls();
  const auto sa = make_account("remote-ed25519", TestCredential::ed25519());
  secrets_.push_back(sa.private_pem);

  const CtlRun permission =
      remote(sa, {"--json", "permissions", "create", "--name", "readers", "--operation", "Keys:Read"});
  ASSERT_EQ(permission.code, 0) << permission;
  const std::string permission_id = str(permission.json(), "id");
  const CtlRun wallet = remote(sa, {"--json", "wallets", "create", "--network", "Ethereum"});
  ASSERT_EQ(wallet.code, 0) << wallet;
  EXPECT_EQ(str(wallet.json(), "address").rfind("0x", 0), 0u) << wallet;

  const auto changes = changes_by(sa.user_id);
  ASSERT_TRUE(changes.contains("POST /permissions")) << permission;
  EXPECT_EQ(changes.at("POST /permissions"), sa.cred_id);
  ASSERT_TRUE(changes.contains("POST /wallets")) << wallet;
  EXPECT_EQ(changes.at("POST /wallets"), sa.cred_id);
}

TEST_F(SignerctlRemoteTest, ACaThatDidNotIssueTheCertificateIsRefusedBeforeAnythingIsSent) {
  start_tls();
  const auto sa = make_account("remote-wrong-ca", TestCredential::p256());
  const std::vector<std::string> create{"keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"};

  auto args = create;
  args.insert(args.begin(),
              {"--url", url(), "--cacert", pki_.cert("other-ca").string(), "--token-file", sa.token_file.string(),
               "--cred-id", sa.cred_id, "--credential-key-file", sa.key_file.string()});
  const CtlRun wrong_ca = ctl_checked(args);
  EXPECT_EQ(wrong_ca.code, 5) << wrong_ca;
  EXPECT_NE(wrong_ca.err.find("certificate verify failed"), std::string::npos) << wrong_ca;
  EXPECT_NE(wrong_ca.err.find("not issued by a CA in --cacert"), std::string::npos) << wrong_ca;

  // Without --cacert the system's trust store applies, and it does not hold the test CA.
  args = create;
  args.insert(args.begin(), {"--url", url(), "--token-file", sa.token_file.string(), "--cred-id", sa.cred_id,
                             "--credential-key-file", sa.key_file.string()});
  const CtlRun system_store = ctl_checked(args);
  EXPECT_EQ(system_store.code, 5) << system_store;
  EXPECT_NE(system_store.err.find("certificate verify failed"), std::string::npos) << system_store;
  EXPECT_NE(system_store.err.find("--cacert FILE"), std::string::npos) << system_store;

  // A --cacert that is not a certificate is a usage error.
  const auto garbage = scratch_.path() / "garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  const CtlRun bad_file = ctl_checked({"--url", url(), "--cacert", garbage.string(), "status"});
  EXPECT_EQ(bad_file.code, 2) << bad_file;
  EXPECT_NE(bad_file.err.find(garbage.string()), std::string::npos) << bad_file;
  // --cacert is for https.
  EXPECT_EQ(ctl_checked({"--url", url("http"), "--cacert", pki_.cert("ca").string(), "status"}).code, 2);

  EXPECT_EQ(key_count(), 0u);
  EXPECT_TRUE(changes_by(sa.user_id).empty());
  EXPECT_NE(daemon_->log().find("TLS handshake failed"), std::string::npos) << daemon_->log();
}

TEST_F(SignerctlRemoteTest, ACertificateForAnotherHostIsRefused) {
  pki_.make_server("elsewhere", "DNS:signerd.invalid");
  start_tls("elsewhere");
  const auto sa = make_account("remote-elsewhere", TestCredential::p256());
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    const CtlRun r = remote(sa, {"keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"}, url("https", host));
    EXPECT_EQ(r.code, 5) << r;
    EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r;
    EXPECT_NE(r.err.find(host == "localhost" ? "hostname mismatch" : "IP address mismatch"), std::string::npos) << r;
    EXPECT_NE(r.err.find("is not for " + host), std::string::npos) << r;
  }
  EXPECT_EQ(key_count(), 0u);
}

TEST_F(SignerctlRemoteTest, ACredentialKeyFileOthersCanReadIsRefused) {
  start_tls();
  const auto sa = make_account("remote-mode", TestCredential::p256());
  secrets_.push_back(sa.private_pem);
  const std::vector<std::string> create{"--json", "keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"};

  for (const mode_t mode : {0644, 0604}) {
    ::chmod(sa.key_file.c_str(), mode);
    const CtlRun r = remote(sa, create);
    EXPECT_EQ(r.code, 2) << std::oct << mode << "\n" << r;
    EXPECT_NE(r.err.find("--credential-key-file"), std::string::npos) << r;
    EXPECT_NE(r.err.find(sa.key_file.string()), std::string::npos) << r;
    EXPECT_NE(r.err.find("readable by other users"), std::string::npos) << r;
    // Even a read needs a key file that is safe, when one is given.
    EXPECT_EQ(remote(sa, {"keys", "list"}).code, 2);
  }
  EXPECT_EQ(key_count(), 0u);

  // A public key is not a credential key; the daemon's rule for secret files allows group read (0640).
  const auto public_key = scratch_.path() / "remote-mode.pub";
  write_private_file(public_key, TestCredential::p256().public_pem());
  RemoteAccount with_public = sa;
  with_public.key_file = public_key;
  const CtlRun not_private = remote(with_public, create);
  EXPECT_EQ(not_private.code, 2) << not_private;
  EXPECT_NE(not_private.err.find("public key"), std::string::npos) << not_private;

  ::chmod(sa.key_file.c_str(), 0640);
  const CtlRun group_readable = remote(sa, create);
  EXPECT_EQ(group_readable.code, 0) << group_readable;
  EXPECT_EQ(key_count(), 1u);
}

TEST_F(SignerctlRemoteTest, AClientCertificateOpensADaemonThatRequiresOne) {
  start_tls("server", /*client_ca=*/true);
  const auto sa = make_account("remote-mtls", TestCredential::p256());
  const std::vector<std::string> create{"--json", "keys", "create", "--scheme", "ECDSA", "--curve", "secp256k1"};

  auto with_cert = client_certificate("client");
  with_cert.insert(with_cert.end(), create.begin(), create.end());
  const CtlRun created = remote(sa, with_cert);
  ASSERT_EQ(created.code, 0) << created;
  const auto key = json::parse(created.out);
  EXPECT_EQ(str(key, "status"), "Active") << created.out;
  auto list = client_certificate("client");
  list.insert(list.end(), {"--json", "keys", "list"});
  const CtlRun listed = remote(sa, list);
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_NE(listed.out.find(str(key, "id")), std::string::npos) << listed;

  // Without a certificate: refused by the daemon, and signerctl says which options are missing.
  const CtlRun without = remote(sa, create);
  EXPECT_EQ(without.code, 5) << without;
  EXPECT_NE(without.err.find("give one with --cert and --key"), std::string::npos) << without;

  // A certificate from a CA the daemon does not trust for clients: refused, saying so.
  auto rogue = client_certificate("rogue-client");
  rogue.insert(rogue.end(), create.begin(), create.end());
  const CtlRun refused = remote(sa, rogue);
  EXPECT_EQ(refused.code, 5) << refused;
  EXPECT_NE(refused.err.find("did not accept the certificate in --cert"), std::string::npos) << refused;

  EXPECT_EQ(key_count(), 1u);
  const auto changes = changes_by(sa.user_id);
  ASSERT_TRUE(changes.contains("POST /keys")) << created;
  EXPECT_EQ(changes.at("POST /keys"), sa.cred_id);
}

TEST_F(SignerctlRemoteTest, AClientKeyThatIsUnsafeOrNotTheCertificatesIsRefusedBeforeConnecting) {
  start_tls("server", /*client_ca=*/true);
  const auto sa = make_account("remote-mtls-key", TestCredential::p256());
  secrets_.push_back(read_text(pki_.key("client")));
  secrets_.push_back(read_text(pki_.key("rogue-client")));
  const std::vector<std::string> create{"keys", "create", "--scheme", "ECDSA", "--curve", "secp256k1"};

  // A key file others can read.
  auto readable = client_certificate("client");
  ::chmod(readable[3].c_str(), 0644);
  readable.insert(readable.end(), create.begin(), create.end());
  const CtlRun r1 = remote(sa, readable);
  EXPECT_EQ(r1.code, 2) << r1;
  EXPECT_NE(r1.err.find("--key"), std::string::npos) << r1;
  EXPECT_NE(r1.err.find("readable by other users"), std::string::npos) << r1;

  // Another certificate's key.
  auto mismatched = client_certificate("client", /*key_of=*/"rogue-client");
  mismatched.insert(mismatched.end(), create.begin(), create.end());
  const CtlRun r2 = remote(sa, mismatched);
  EXPECT_EQ(r2.code, 2) << r2;
  EXPECT_NE(r2.err.find("is not the private key of the certificate in --cert"), std::string::npos) << r2;

  // Not a certificate, or not a key.
  auto swapped = client_certificate("client");
  std::swap(swapped[1], swapped[3]);
  ::chmod(swapped[1].c_str(), 0600);
  swapped.insert(swapped.end(), create.begin(), create.end());
  const CtlRun r3 = remote(sa, swapped);
  EXPECT_EQ(r3.code, 2) << r3;
  EXPECT_NE(r3.err.find("--cert " + swapped[1] + ": holds no PEM certificate"), std::string::npos) << r3;

  // --cert needs --key (and the other way round), and both are for https.
  const auto cert_only = client_certificate("client");
  EXPECT_EQ(ctl_checked({"--url", url(), "--cert", cert_only[1], "status"}).code, 2);
  EXPECT_EQ(ctl_checked({"--url", url(), "--key", cert_only[3], "status"}).code, 2);
  const CtlRun plain = ctl_checked({"--url", url("http"), "--cert", cert_only[1], "--key", cert_only[3], "status"});
  EXPECT_EQ(plain.code, 2) << plain;
  EXPECT_NE(plain.err.find("--cert is for https:// URLs"), std::string::npos) << plain;

  EXPECT_EQ(key_count(), 0u);
}

TEST_F(SignerctlRemoteTest, AChangeWithoutTheCredentialIsRefusedNamingTheOptions) {
  start_tls();
  const auto sa = make_account("remote-no-key", TestCredential::p256());
  const std::vector<std::string> base{
      "--url", url(), "--cacert", pki_.cert("ca").string(), "--token-file", sa.token_file.string()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), base.begin(), base.end());
    return ctl_checked(args);
  };

  // Reads need no user action.
  const CtlRun listed = with({"--json", "keys", "list"});
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_TRUE(listed.json().at("items").as_array().empty()) << listed;

  const CtlRun change = with({"keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"});
  EXPECT_EQ(change.code, 2) << change;
  EXPECT_NE(change.err.find("--credential-key-file"), std::string::npos) << change;
  EXPECT_NE(change.err.find("--cred-id"), std::string::npos) << change;
  EXPECT_EQ(change.err.find("HTTP 401"), std::string::npos) << change;
  EXPECT_EQ(change.err.find("HTTP 403"), std::string::npos) << change;

  // One of the pair alone is a usage error naming the other.
  const CtlRun id_only = with({"--cred-id", sa.cred_id, "keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"});
  EXPECT_EQ(id_only.code, 2) << id_only;
  EXPECT_NE(id_only.err.find("--credential-key-file"), std::string::npos) << id_only;
  const CtlRun key_only = with({"--credential-key-file", sa.key_file.string(), "keys", "archive", "key-x"});
  EXPECT_EQ(key_only.code, 2) << key_only;
  EXPECT_NE(key_only.err.find("--cred-id"), std::string::npos) << key_only;

  EXPECT_EQ(key_count(), 0u);
  EXPECT_TRUE(changes_by(sa.user_id).empty());
}

TEST_F(SignerctlRemoteTest, ACredentialTheAccountDoesNotHaveIsRefused) {
  start_tls();
  const auto sa = make_account("remote-imposter", TestCredential::p256());
  const std::vector<std::string> create{"keys", "create", "--scheme", "ECDSA", "--curve", "secp256r1"};

  // Another key under the account's credId: the daemon refuses the signed challenge (403 at POST /auth/action).
  RemoteAccount other_key = sa;
  other_key.key_file = scratch_.path() / "other.key";
  write_private_file(other_key.key_file, TestCredential::p256().private_pem());
  const CtlRun wrong_key = remote(other_key, create);
  EXPECT_EQ(wrong_key.code, 6) << wrong_key;
  EXPECT_NE(wrong_key.err.find("user-action signing for POST /keys refused at POST /auth/action"), std::string::npos)
      << wrong_key;
  EXPECT_NE(wrong_key.err.find("signature does not verify"), std::string::npos) << wrong_key;
  EXPECT_NE(wrong_key.err.find("HTTP 403"), std::string::npos) << wrong_key;

  // A credId the account does not have: signerctl stops before signing (the challenge does not allow it).
  RemoteAccount other_id = sa;
  other_id.cred_id = "Y2Qtbm90LW91cnM";
  const CtlRun wrong_id = remote(other_id, create);
  EXPECT_EQ(wrong_id.code, 6) << wrong_id;
  EXPECT_NE(wrong_id.err.find("--cred-id Y2Qtbm90LW91cnM is not an active Key credential"), std::string::npos)
      << wrong_id;
  EXPECT_NE(wrong_id.err.find(sa.cred_id), std::string::npos) << wrong_id;

  // The right credential without the permission: the user action is made, the request is refused (403).
  const auto reader = make_account("remote-reader", TestCredential::p256(), /*admin=*/false);
  const CtlRun unpermitted = remote(reader, create);
  EXPECT_EQ(unpermitted.code, 6) << unpermitted;
  EXPECT_EQ(unpermitted.err.find("user-action signing"), std::string::npos) << unpermitted;
  EXPECT_NE(unpermitted.err.find("Keys:Create"), std::string::npos) << unpermitted;
  EXPECT_EQ(key_count(), 0u);
}

TEST_F(SignerctlRemoteTest, PlainHttpStillServesReadsAndSignedChanges) {
  start();  // no TLS: plain HTTP on loopback
  const auto sa = make_account("remote-plain", TestCredential::p256());
  const std::vector<std::string> as_account{"--url",     url("http"), "--token-file",          sa.token_file.string(),
                                            "--cred-id", sa.cred_id,  "--credential-key-file", sa.key_file.string()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), as_account.begin(), as_account.end());
    return ctl_checked(args);
  };
  const CtlRun listed = with({"--json", "keys", "list"});
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_TRUE(listed.json().at("items").as_array().empty()) << listed;
  const CtlRun created = with({"--json", "keys", "create", "--scheme", "EdDSA", "--curve", "ed25519"});
  ASSERT_EQ(created.code, 0) << created;
  EXPECT_EQ(key_count(), 1u);
  EXPECT_EQ(changes_by(sa.user_id).at("POST /keys"), sa.cred_id);

  // https:// to a port that speaks plain HTTP: the handshake fails (5), saying so.
  auto tls_args = as_account;
  tls_args[1] = url("https");
  tls_args.insert(tls_args.end(), {"--cacert", pki_.cert("ca").string(), "keys", "list"});
  const CtlRun not_tls = ctl_checked(tls_args);
  EXPECT_EQ(not_tls.code, 5) << not_tls;
  EXPECT_NE(not_tls.err.find("TLS handshake failed"), std::string::npos) << not_tls;

  // Plain http:// beyond loopback (where signerd never serves without TLS) gets no token: refused before connecting.
  for (const std::string host : {"192.0.2.10", "signer.example", "[2001:db8::1]"}) {
    const CtlRun elsewhere = ctl_checked({"--url", "http://" + host + ":8420", "--token-file", sa.token_file.string(),
                                          "--timeout", "2", "keys", "list"});
    EXPECT_EQ(elsewhere.code, 2) << elsewhere;
    EXPECT_NE(elsewhere.err.find("refusing to send the --token-file token over plain http://"), std::string::npos)
        << elsewhere;
  }
  // Loopback spelled otherwise is still loopback.
  const CtlRun localhost =
      ctl_checked({"--url", url("http", "localhost"), "--token-file", sa.token_file.string(), "--json", "keys", "list"});
  EXPECT_EQ(localhost.code, 0) << localhost;
}

TEST_F(SignerctlRemoteTest, AppsOverTheUrlPointAtTheUnixSocket) {
  start_tls();
  const auto sa = make_account("remote-apps", TestCredential::p256());
  // Without a token (401) and with one (403): apps are the local administrator's, over the Unix socket.
  const CtlRun anonymous =
      ctl_checked({"--url", url(), "--cacert", pki_.cert("ca").string(), "apps", "create", "--name", "x"});
  const CtlRun token_holder = remote(sa, {"apps", "list"});
  for (const auto& [r, status] : {std::pair{anonymous, "HTTP 401"}, std::pair{token_holder, "HTTP 403"}}) {
    EXPECT_EQ(r.code, 6) << r;
    EXPECT_NE(r.err.find(status), std::string::npos) << r;
    EXPECT_NE(r.err.find("local administrator"), std::string::npos) << r;
    EXPECT_NE(r.err.find("Unix socket"), std::string::npos) << r;
    EXPECT_EQ(r.err.find("--token-file"), std::string::npos) << r;
  }
  const CtlRun revoke = remote(sa, {"apps", "revoke", "app-x"});
  EXPECT_EQ(revoke.code, 6) << revoke;
  EXPECT_NE(revoke.err.find("Unix socket"), std::string::npos) << revoke;
}

}  // namespace
}  // namespace signerd::testing
