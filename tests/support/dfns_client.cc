#include "tests/support/dfns_client.h"

#include "tests/support/daemon_fixture.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace signerd::testing {
namespace {

namespace json = boost::json;

std::string b64url(const unsigned char* data, std::size_t size) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (size - i == 1) {
    const unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    for (int shift : {18, 12, 6}) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

EVP_PKEY* pkey(const std::shared_ptr<void>& p) { return static_cast<EVP_PKEY*>(p.get()); }

std::shared_ptr<void> wrap(EVP_PKEY* key) {
  if (!key) throw std::runtime_error("OpenSSL key generation failed");
  return std::shared_ptr<void>(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return out;
}

std::string must_str(const json::value& v, std::string_view key, const HttpReply& r) {
  const auto s = str(v, key);
  if (s.empty()) throw std::runtime_error("no " + std::string(key) + " in " + std::to_string(r.status) + " " + r.body);
  return s;
}

}  // namespace

TestCredential TestCredential::p256() {
  TestCredential c;
  c.key_ = wrap(EVP_EC_gen("P-256"));
  return c;
}

TestCredential TestCredential::ed25519() {
  TestCredential c;
  c.key_ = wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  return c;
}

std::string TestCredential::public_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey(key_));
  return bio_string(bio);
}

std::string TestCredential::private_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey(key_), nullptr, nullptr, 0, nullptr, nullptr);
  return bio_string(bio);
}

std::string TestCredential::sign_b64url(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ed = EVP_PKEY_get_base_id(pkey(key_)) == EVP_PKEY_ED25519;
  EVP_DigestSignInit(ctx, nullptr, ed ? nullptr : EVP_sha256(), nullptr, pkey(key_));
  std::size_t size = 0;
  const auto* m = reinterpret_cast<const unsigned char*>(message.data());
  EVP_DigestSign(ctx, nullptr, &size, m, message.size());
  std::string sig(size, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size, m, message.size());
  EVP_MD_CTX_free(ctx);
  return b64url(reinterpret_cast<const unsigned char*>(sig.data()), size);
}

HttpReply DfnsSession::get(const std::string& target) { return raw("GET", target, ""); }

HttpReply DfnsSession::raw(const std::string& method, const std::string& target, const std::string& body,
                           std::map<std::string, std::string> headers) {
  headers.emplace("Authorization", "Bearer " + bearer_);
  return client_.request(method, target, body, headers);
}

UserActionResult DfnsSession::user_action(const std::string& method, const std::string& path,
                                          const std::string& payload, const TestCredential* signer,
                                          const std::string* cred_id) {
  const json::object init{{"userActionPayload", payload},
                          {"userActionHttpMethod", method},
                          {"userActionHttpPath", path},
                          {"userActionServerKind", "Api"}};
  auto challenge = raw("POST", "/auth/action/init", json::serialize(init));
  if (challenge.status != 200) return {std::nullopt, challenge};
  const auto doc = challenge.json();
  const std::string client_data =
      json::serialize(json::object{{"type", "key.get"}, {"challenge", str(doc, "challenge")}});
  const auto* key = signer ? signer : &credential_;
  const json::object assertion{
      {"challengeIdentifier", str(doc, "challengeIdentifier")},
      {"firstFactor",
       {{"kind", "Key"},
        {"credentialAssertion",
         {{"credId", cred_id ? *cred_id : cred_id_},
          {"clientData", b64url(reinterpret_cast<const unsigned char*>(client_data.data()), client_data.size())},
          {"signature", key->sign_b64url(client_data)}}}}}};
  auto signed_reply = raw("POST", "/auth/action", json::serialize(assertion));
  if (signed_reply.status != 200) return {std::nullopt, signed_reply};
  return {str(signed_reply.json(), "userAction"), signed_reply};
}

HttpReply DfnsSession::mutate(const std::string& method, const std::string& target, const std::string& body) {
  auto ua = user_action(method, target.substr(0, target.find('?')), body);
  if (!ua.token) return ua.refusal;
  return raw(method, target, body, {{"x-dfns-useraction", *ua.token}});
}

std::string admin_permission_id(HttpClient& admin) {
  auto r = admin.request("GET", "/permissions");
  const auto doc = r.json();
  for (const auto& p : doc.as_object().at("items").as_array()) {
    if (str(p, "name") == "Admin") return str(p, "id");
  }
  throw std::runtime_error("no Admin permission: " + r.body);
}

ServiceAccount create_service_account(HttpClient& admin, const std::string& name, bool with_admin_permission) {
  ServiceAccount sa{"", "", "", TestCredential::p256()};
  json::object body{{"name", name}, {"publicKey", sa.credential.public_pem()}};
  if (with_admin_permission) body["permissionId"] = admin_permission_id(admin);
  auto r = admin.request("POST", "/auth/service-accounts", json::serialize(body));
  if (r.status != 200) throw std::runtime_error("service account: " + std::to_string(r.status) + " " + r.body);
  const auto doc = r.json();
  sa.user_id = must_str(doc.as_object().at("userInfo"), "userId", r);
  const auto& token = doc.as_object().at("accessTokens").as_array().at(0);
  sa.token = must_str(token, "accessToken", r);
  sa.cred_id = must_str(token, "credId", r);
  return sa;
}

EndUser create_end_user(HttpClient& admin, HttpClient& client, const std::string& email) {
  EndUser u{"", email, "", "", TestCredential::p256()};
  const json::object body{{"email", email}, {"kind", "EndUser"}, {"publicKey", u.credential.public_pem()}};
  auto r = admin.request("POST", "/auth/users", json::serialize(body));
  if (r.status != 200) throw std::runtime_error("end user: " + std::to_string(r.status) + " " + r.body);
  const auto doc = r.json();
  u.user_id = must_str(doc, "userId", r);
  u.cred_id = must_str(doc.as_object().at("credentials").as_array().at(0), "credentialId", r);
  const auto org = must_str(doc, "orgId", r);
  auto init = client.request("POST", "/auth/login/init",
                             json::serialize(json::object{{"username", email}, {"orgId", org}}));
  if (init.status != 200) throw std::runtime_error("login init: " + std::to_string(init.status) + " " + init.body);
  const std::string client_data =
      json::serialize(json::object{{"type", "key.get"}, {"challenge", str(init.json(), "challenge")}});
  const json::object login{
      {"challengeIdentifier", str(init.json(), "challengeIdentifier")},
      {"firstFactor",
       {{"kind", "Key"},
        {"credentialAssertion",
         {{"credId", u.cred_id},
          {"clientData", b64url(reinterpret_cast<const unsigned char*>(client_data.data()), client_data.size())},
          {"signature", u.credential.sign_b64url(client_data)}}}}}};
  auto done = client.request("POST", "/auth/login", json::serialize(login));
  u.token = must_str(done.json(), "token", done);
  return u;
}

}  // namespace signerd::testing
