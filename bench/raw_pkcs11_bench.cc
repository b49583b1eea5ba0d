// raw_pkcs11_bench: the raw PKCS#11 baseline signerd is measured against. It drives the module directly, N threads
// each with its own session, signing (or generating key pairs) in a loop, and reports ops/s and latency percentiles
// as one JSON line on stdout and one human line on stderr.
//
// This file includes <p11-kit/pkcs11.h> itself: the one exception to "pkcs11.h only in hsm/". The baseline must
// measure the module with nothing of ours in between, so it deliberately does not go through signerd::hsm.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_stats.h"

namespace signerd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<CK_BYTE>;

std::string rv_name(CK_RV rv) {
  switch (rv) {
    case CKR_OK:
      return "CKR_OK";
    case CKR_GENERAL_ERROR:
      return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
      return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD:
      return "CKR_ARGUMENTS_BAD";
    case CKR_ATTRIBUTE_VALUE_INVALID:
      return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_DEVICE_MEMORY:
      return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_KEY_HANDLE_INVALID:
      return "CKR_KEY_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID:
      return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_OPERATION_ACTIVE:
      return "CKR_OPERATION_ACTIVE";
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SESSION_COUNT:
      return "CKR_SESSION_COUNT";
    case CKR_TEMPLATE_INCOMPLETE:
      return "CKR_TEMPLATE_INCOMPLETE";
    case CKR_TEMPLATE_INCONSISTENT:
      return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_USER_ALREADY_LOGGED_IN:
      return "CKR_USER_ALREADY_LOGGED_IN";
    case CKR_BUFFER_TOO_SMALL:
      return "CKR_BUFFER_TOO_SMALL";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_DOMAIN_PARAMS_INVALID:
      return "CKR_DOMAIN_PARAMS_INVALID";
    case CKR_CURVE_NOT_SUPPORTED:
      return "CKR_CURVE_NOT_SUPPORTED";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%08lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

[[noreturn]] void fail(const std::string& what, CK_RV rv) { throw std::runtime_error(what + ": " + rv_name(rv)); }

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) fail(what, rv);
}

// The module: dlopen'ed, C_Initialize'd with OS locking, finalized and unloaded on destruction. Owns the function
// list every other object here borrows.
class Module {
 public:
  explicit Module(const std::string& path) {
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error("dlopen " + path + ": " + ::dlerror());
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle_, "C_GetFunctionList"));
    if (get_list == nullptr) throw std::runtime_error(path + " has no C_GetFunctionList");
    check(get_list(&fn_), "C_GetFunctionList");
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    check(fn_->C_Initialize(&args), "C_Initialize");
  }
  ~Module() {
    if (fn_ != nullptr) fn_->C_Finalize(nullptr);
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }

  // The slot holding the initialised token with this label.
  CK_SLOT_ID slot_for_label(const std::string& label) const {
    CK_ULONG count = 0;
    check(fn_->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList");
    std::vector<CK_SLOT_ID> slots(count);
    check(fn_->C_GetSlotList(CK_TRUE, slots.data(), &count), "C_GetSlotList");
    slots.resize(count);
    for (CK_SLOT_ID slot : slots) {
      CK_TOKEN_INFO info{};
      if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      std::string have(reinterpret_cast<const char*>(info.label), sizeof info.label);
      have.erase(have.find_last_not_of(' ') + 1);
      if (have == label) return slot;
    }
    throw std::runtime_error("no token labelled '" + label + "'");
  }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
};

// A read-write session, closed on destruction. It never logs out: the login belongs to the token, and logging out
// here would log out every other thread's session too.
class Session {
 public:
  Session(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot) : fn_(fn) {
    check(fn_->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &handle_), "C_OpenSession");
  }
  ~Session() { fn_->C_CloseSession(handle_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_FUNCTION_LIST* fn() const { return fn_; }

 private:
  CK_FUNCTION_LIST* fn_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

struct CurveSpec {
  std::string name;
  CK_MECHANISM_TYPE keygen_mechanism;
  CK_MECHANISM_TYPE sign_mechanism;
  // EC_PARAMS encodings to try, in order, each with a short name for the report.
  std::vector<std::pair<std::string, Bytes>> ec_params_candidates;
};

CurveSpec curve_spec(const std::string& name) {
  if (name == "secp256k1") {
    return {name, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, {{"oid", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A}}}};
  }
  if (name == "p256") {
    return {
        name, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, {{"oid", {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}}}};
  }
  if (name == "ed25519") {
    Bytes printable = {0x13, 0x0C};
    for (char c : std::string("edwards25519")) printable.push_back(static_cast<CK_BYTE>(c));
    return {name,
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            CKM_EDDSA,
            {{"oid", {0x06, 0x03, 0x2B, 0x65, 0x70}}, {"printable", std::move(printable)}}};
  }
  throw std::runtime_error("unknown curve " + name);
}

struct KeyPair {
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_key = CK_INVALID_HANDLE;
};

// Generates a key pair with the attributes a real signer uses: sensitive, non-extractable private key, an ID shared
// by both halves. Returns the module's code so callers can count failures instead of stopping.
CK_RV generate_key_pair(const Session& session, const CurveSpec& curve, const Bytes& ec_params, bool token,
                        const Bytes& id, KeyPair& out) {
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  CK_BBOOL on_token = token ? CK_TRUE : CK_FALSE;
  Bytes params = ec_params;
  Bytes key_id = id;
  std::array<CK_ATTRIBUTE, 5> public_template = {{
      {CKA_TOKEN, &on_token, sizeof on_token},
      {CKA_PRIVATE, &no, sizeof no},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_EC_PARAMS, params.data(), params.size()},
      {CKA_ID, key_id.data(), key_id.size()},
  }};
  std::array<CK_ATTRIBUTE, 6> private_template = {{
      {CKA_TOKEN, &on_token, sizeof on_token},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_ID, key_id.data(), key_id.size()},
  }};
  CK_MECHANISM mechanism{curve.keygen_mechanism, nullptr, 0};
  return session.fn()->C_GenerateKeyPair(session.handle(), &mechanism, public_template.data(), public_template.size(),
                                         private_template.data(), private_template.size(), &out.public_key,
                                         &out.private_key);
}

void destroy(const Session& session, const KeyPair& pair) {
  session.fn()->C_DestroyObject(session.handle(), pair.private_key);
  session.fn()->C_DestroyObject(session.handle(), pair.public_key);
}

// Picks the first EC_PARAMS encoding the module accepts, by generating a throwaway session key pair with each.
std::pair<std::string, Bytes> choose_ec_params(const Session& session, const CurveSpec& curve) {
  std::string tried;
  for (const auto& [form, params] : curve.ec_params_candidates) {
    KeyPair probe;
    const CK_RV rv = generate_key_pair(session, curve, params, /*token=*/false, Bytes{0x70, 0x72, 0x6f, 0x62}, probe);
    if (rv == CKR_OK) {
      destroy(session, probe);
      return {form, params};
    }
    tried += (tried.empty() ? "" : ", ") + form + " -> " + rv_name(rv);
  }
  throw std::runtime_error("the module accepts no EC_PARAMS encoding for " + curve.name + " (" + tried + ")");
}

std::string read_pin(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read PIN file " + path);
  std::string pin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r' || pin.back() == ' ')) pin.pop_back();
  return pin;
}

// Unique CKA_ID values for this run: a random run prefix, the thread index and a counter.
Bytes key_id(std::uint64_t run, std::uint32_t thread, std::uint32_t counter) {
  Bytes id(16);
  std::memcpy(id.data(), &run, 8);
  std::memcpy(id.data() + 8, &thread, 4);
  std::memcpy(id.data() + 12, &counter, 4);
  return id;
}

struct WorkerResult {
  std::vector<std::int64_t> latencies_ns;
  std::map<CK_RV, std::uint64_t> errors;
  std::vector<KeyPair> generated;  // keygen mode: destroyed after the timed run unless --keep-keys
  Clock::time_point finished;
};

struct Options {
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string token_label;
  std::string pin_file;
  std::string curve = "secp256k1";
  unsigned threads = 2;
  double seconds = 5;
  std::string mode = "sign";
  bool keep_keys = false;
};

int run(const Options& opt) {
  const CurveSpec curve = curve_spec(opt.curve);
  Module module(opt.module);
  const CK_SLOT_ID slot = module.slot_for_label(opt.token_label);

  // The first session logs in for all; it stays open for the whole run because closing a token's last session
  // logs the user out.
  Session setup(module.fn(), slot);
  {
    std::string pin = read_pin(opt.pin_file);
    const CK_RV rv =
        module.fn()->C_Login(setup.handle(), CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
    std::fill(pin.begin(), pin.end(), '\0');
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) fail("C_Login", rv);
  }

  const auto [params_form, ec_params] = choose_ec_params(setup, curve);
  const std::uint64_t run_id = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  const bool sign_mode = opt.mode == "sign";

  KeyPair signing_key;
  if (sign_mode) {
    check(generate_key_pair(setup, curve, ec_params, /*token=*/true, key_id(run_id, ~0u, 0), signing_key),
          "C_GenerateKeyPair (signing key)");
  }

  const unsigned n = opt.threads;
  std::vector<WorkerResult> results(n);
  std::latch ready(n);
  std::latch go(1);
  std::latch done(n);  // nobody destroys keys while another thread is still timing
  Clock::time_point deadline;
  std::atomic<bool> setup_failed{false};
  std::vector<std::string> setup_errors(n);

  auto worker = [&](unsigned index) {
    WorkerResult& result = results[index];
    std::optional<Session> session;
    try {
      session.emplace(module.fn(), slot);
    } catch (const std::exception& e) {
      setup_errors[index] = e.what();
      setup_failed = true;
    }
    ready.count_down();
    go.wait();
    if (!session) {
      done.count_down();
      return;
    }
    CK_FUNCTION_LIST* fn = module.fn();
    const CK_SESSION_HANDLE h = session->handle();
    result.latencies_ns.reserve(1 << 16);

    if (sign_mode) {
      std::mt19937_64 rng(run_id + index);
      std::array<CK_BYTE, 32> input{};
      std::array<CK_BYTE, 256> signature{};
      CK_MECHANISM mechanism{curve.sign_mechanism, nullptr, 0};
      for (;;) {
        for (std::size_t i = 0; i < input.size(); i += 8) {
          const std::uint64_t r = rng();
          std::memcpy(input.data() + i, &r, 8);
        }
        const auto t0 = Clock::now();
        if (t0 >= deadline) break;
        // One-call C_Sign with a buffer known to be large enough: the baseline pays for one signature, not for a
        // length query.
        CK_RV rv = fn->C_SignInit(h, &mechanism, signing_key.private_key);
        if (rv == CKR_OK) {
          CK_ULONG length = signature.size();
          rv = fn->C_Sign(h, input.data(), input.size(), signature.data(), &length);
        }
        const auto t1 = Clock::now();
        if (rv == CKR_OK) {
          result.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        } else {
          ++result.errors[rv];
        }
      }
    } else {
      for (std::uint32_t counter = 0;; ++counter) {
        const Bytes id = key_id(run_id, index, counter);
        const auto t0 = Clock::now();
        if (t0 >= deadline) break;
        KeyPair pair;
        const CK_RV rv = generate_key_pair(*session, curve, ec_params, /*token=*/true, id, pair);
        const auto t1 = Clock::now();
        if (rv == CKR_OK) {
          result.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
          result.generated.push_back(pair);
        } else {
          ++result.errors[rv];
        }
      }
    }
    result.finished = Clock::now();
    done.arrive_and_wait();
    if (!opt.keep_keys) {
      for (const KeyPair& pair : result.generated) destroy(*session, pair);
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(n);
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker, i);
  ready.wait();
  const auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
  go.count_down();
  for (auto& t : threads) t.join();

  if (sign_mode && !opt.keep_keys) destroy(setup, signing_key);
  if (setup_failed) {
    for (const auto& e : setup_errors) {
      if (!e.empty()) throw std::runtime_error("worker session: " + e);
    }
  }

  std::vector<std::int64_t> all;
  std::map<CK_RV, std::uint64_t> errors;
  std::uint64_t error_count = 0;
  Clock::time_point end = start;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    for (auto [rv, count] : r.errors) {
      errors[rv] += count;
      error_count += count;
    }
    end = std::max(end, r.finished);
  }
  const double elapsed = std::chrono::duration<double>(end - start).count();
  const LatencySummary s = summarize(std::move(all));
  const double ops_per_s = elapsed > 0 ? static_cast<double>(s.count) / elapsed : 0;

  std::ostringstream json;
  json << "{\"tool\":\"raw_pkcs11_bench\",\"mode\":" << json_quote(opt.mode) << ",\"curve\":" << json_quote(opt.curve)
       << ",\"ec_params\":" << json_quote(params_form) << ",\"threads\":" << n << ",\"seconds\":" << fixed(elapsed, 3)
       << ",\"ops\":" << s.count << ",\"errors\":" << error_count << ",\"ops_per_s\":" << fixed(ops_per_s)
       << ",\"p50_us\":" << fixed(s.p50_us) << ",\"p90_us\":" << fixed(s.p90_us) << ",\"p99_us\":" << fixed(s.p99_us)
       << ",\"max_us\":" << fixed(s.max_us) << ",\"mean_us\":" << fixed(s.mean_us) << ",\"errors_by_code\":{";
  bool first = true;
  for (auto [rv, count] : errors) {
    json << (first ? "" : ",") << json_quote(rv_name(rv)) << ":" << count;
    first = false;
  }
  json << "}}";
  std::cout << json.str() << std::endl;
  std::cerr << "raw " << opt.mode << " " << opt.curve << " threads=" << n << ": " << fixed(ops_per_s) << " ops/s, p50 "
            << fixed(s.p50_us) << " us, p99 " << fixed(s.p99_us) << " us, " << s.count << " ops, " << error_count
            << " errors in " << fixed(elapsed) << " s\n";
  return error_count == 0 && s.count > 0 ? 0 : 1;
}

}  // namespace
}  // namespace signerd::bench

int main(int argc, char** argv) {
  signerd::bench::Options opt;
  CLI::App app{"Raw PKCS#11 baseline: sign or generate keys straight through the module"};
  app.add_option("--module", opt.module, "PKCS#11 module path")->capture_default_str();
  app.add_option("--token-label", opt.token_label, "label of an initialised token")->required();
  app.add_option("--pin-file", opt.pin_file, "file holding the user PIN")->required();
  app.add_option("--curve", opt.curve, "key curve")
      ->check(CLI::IsMember({"secp256k1", "p256", "ed25519"}))
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "worker threads, one session each")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--seconds", opt.seconds, "duration of the timed run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--mode", opt.mode, "sign: sign with one key; keygen: generate token key pairs")
      ->check(CLI::IsMember({"sign", "keygen"}))
      ->capture_default_str();
  app.add_flag("--keep-keys", opt.keep_keys, "do not destroy the key pairs created by the run");
  CLI11_PARSE(app, argc, argv);
  try {
    return signerd::bench::run(opt);
  } catch (const std::exception& e) {
    std::cerr << "raw_pkcs11_bench: " << e.what() << "\n";
    return 2;
  }
}
