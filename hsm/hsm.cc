#include "hsm/hsm.h"

#include <p11-kit/pkcs11.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cassert>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "hsm/ec_encoding.h"
#include "hsm/pkcs11_errors.h"
#include "hsm/pkcs11_module.h"
#include "hsm/session_pool.h"

namespace signerd::hsm {
namespace {

// Records how long an HSM operation took, session wait included, as signerd_hsm_operation_duration_seconds.
class OperationTimer {
 public:
  OperationTimer(const char* operation, Curve curve)
      : operation_(operation), curve_(curve), started_(std::chrono::steady_clock::now()) {}
  ~OperationTimer() {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
    metrics::registry().observe("signerd_hsm_operation_duration_seconds",
                                {{"operation", operation_}, {"curve", to_string(curve_)}}, took.count());
  }

 private:
  const char* operation_;
  Curve curve_;
  std::chrono::steady_clock::time_point started_;
};


using Clock = std::chrono::steady_clock;

// The hsm component's logger (common/log.h). Lines are "hsm <event> key=value ...". Nothing on the signing path logs
// above debug, and spdlog checks the level before it formats, so a disabled debug line costs a level comparison.
spdlog::logger& hsm_log() { return signerd::log(LogComponent::kHsm); }

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Set on a thread while it runs a recovery attempt that is not logged (see logged_attempt()): that attempt's failed
// calls are not logged either.
thread_local bool quiet_recovery = false;

// Every failed PKCS#11 call of an Hsm is logged here, once, by function and CKR_ name (never an argument).
void log_failed_call(std::string_view function, CK_RV rv) {
  if (quiet_recovery) return;
  hsm_log().warn("hsm call failed function={} rv={}", function, ckr_name(rv));
}

// While the HSM stays down every request retries recovery. Attempts 1 to 3 of a run of failures are logged, then
// only attempts 4, 8, 16, ...: the log says the HSM is still down without a burst of lines per request.
bool logged_attempt(std::uint64_t attempt) { return attempt <= 3 || (attempt & (attempt - 1)) == 0; }

Error failed_call(std::string_view function, CK_RV rv) {
  log_failed_call(function, rv);
  return p11_error(function, rv);
}

constexpr std::size_t kSignatureSize = 64;  // r || s or R || S on every supported curve
constexpr std::size_t kMaxSignatureSize = 512;
constexpr std::size_t kDigestSize = 32;
constexpr std::size_t kMaxEd25519Message = 65536;
constexpr std::size_t kMaxKeyIdSize = 255;

CK_BBOOL g_true = CK_TRUE;
CK_BBOOL g_false = CK_FALSE;

CK_ATTRIBUTE attribute(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t size) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(size)};
}

CK_ATTRIBUTE bool_attribute(CK_ATTRIBUTE_TYPE type, bool value) {
  return attribute(type, value ? &g_true : &g_false, sizeof(CK_BBOOL));
}

Result<void> check_key_id(std::string_view key_id) {
  if (key_id.empty() || key_id.size() > kMaxKeyIdSize) {
    return fail(ErrorCode::kInvalidArgument, "key id must be 1.." + std::to_string(kMaxKeyIdSize) + " bytes");
  }
  return {};
}

bool is_stale_handle(CK_RV rv) { return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID; }

}  // namespace

const char* to_string(Curve curve) {
  switch (curve) {
    case Curve::kSecp256k1: return "secp256k1";
    case Curve::kP256: return "prime256v1";
    case Curve::kEd25519: return "ed25519";
  }
  return "unknown";
}

// Locking: recovery_mutex_ is held shared by every lease for its whole life and exclusively by recovery, so the
// module is never finalised under a running operation. Members marked "recovery" are written only under the
// exclusive lock (or before the Impl is shared / in its destructor) and read under either lock.
struct Hsm::Impl {
  class Lease;

  Impl(HsmOptions options, Module module) : options_(std::move(options)), module_(std::move(module)) {}
  ~Impl() { stop(); }

  CK_FUNCTION_LIST* p11() const { return module_.functions(); }

  // `first`: the start in Hsm::open, whose lines are info; a restart during recovery logs them at debug.
  Result<void> start(bool first);
  void stop();
  Result<void> login(spdlog::level::level_enum level);
  Result<void> fill_pool();
  Result<void> recover_in_place();  // the error says why the cheap way back was not enough
  Result<void> recover();           // with recovery_mutex_ held exclusively
  void flag_for_recovery(std::string reason);

  Result<Lease> lease();
  Result<std::vector<CK_OBJECT_HANDLE>> find_objects(Lease& lease, std::span<CK_ATTRIBUTE> match, std::size_t max);
  Result<Bytes> read_attribute(Lease& lease, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Result<Curve> object_curve(Lease& lease, CK_OBJECT_HANDLE object, std::string_view key_id);
  Result<CK_OBJECT_HANDLE> private_key(Lease& lease, std::string_view key_id, Curve curve, bool& from_cache);
  void forget_key(std::string_view key_id);

  const HsmOptions options_;  // holds the PIN for logging in again after recovery
  const Module module_;

  bool initialized_ = false;                             // recovery
  CK_SLOT_ID slot_ = 0;                                  // recovery
  CK_SESSION_HANDLE login_session_ = CK_INVALID_HANDLE;  // recovery

  mutable std::shared_timed_mutex recovery_mutex_;
  std::atomic<bool> needs_recovery_{false};
  std::atomic<std::uint64_t> generation_{0};  // bumped when the module is re-initialised
  std::atomic<std::uint64_t> recoveries_{0};
  std::uint64_t recovery_attempts_ = 0;  // recovery: failed attempts in a row, for the log
  SessionPool pool_;

  std::mutex reason_mutex_;
  std::string recovery_reason_;  // why recovery was asked for, for the log; guarded by reason_mutex_

  struct CachedKey {
    CK_OBJECT_HANDLE handle;
    Curve curve;
  };
  std::mutex keys_mutex_;
  std::unordered_map<std::string, CachedKey> keys_;  // private key handles; guarded by keys_mutex_
  std::unordered_set<std::string> generating_;       // key ids being generated; guarded by keys_mutex_
  std::unordered_map<std::string, CK_OBJECT_HANDLE> hmac_keys_;  // secret key handles; guarded by keys_mutex_

  mutable std::mutex info_mutex_;
  std::string library_description_, token_label_, token_serial_;  // guarded by info_mutex_
};

// One pool session for one operation. Holds recovery_mutex_ shared. Returns the session to the pool on
// destruction, or closes it when an operation reported that it (or the module) is broken.
class Hsm::Impl::Lease {
 public:
  Lease(Impl& impl, CK_SESSION_HANDLE session, std::uint64_t generation, std::shared_lock<std::shared_timed_mutex> lock)
      : impl_(&impl), session_(session), generation_(generation), lock_(std::move(lock)) {}
  Lease(Lease&& other) noexcept
      : impl_(std::exchange(other.impl_, nullptr)),
        session_(other.session_),
        generation_(other.generation_),
        broken_(other.broken_),
        broken_reason_(std::move(other.broken_reason_)),
        lock_(std::move(other.lock_)) {}
  Lease& operator=(Lease&&) = delete;

  ~Lease() {
    if (impl_ == nullptr) return;
    if (broken_ || generation_ != impl_->generation_.load()) {
      impl_->p11()->C_CloseSession(session_);
      impl_->pool_.drop_leased();
      if (broken_) {
        hsm_log().warn("hsm session discarded session={} reason=\"{}\"", session_, broken_reason_);
        impl_->flag_for_recovery(std::move(broken_reason_));
      } else {
        hsm_log().debug("hsm session closed session={} reason=\"module re-initialised\"", session_);
      }
    } else {
      impl_->pool_.release(session_);
    }
  }

  CK_SESSION_HANDLE session() const { return session_; }
  CK_FUNCTION_LIST* p11() const { return impl_->p11(); }

  // The error for a failed call. When the code calls for recovery the session is discarded and the Hsm recovers
  // before the next lease.
  Error fail(std::string_view function, CK_RV rv) {
    Error error = failed_call(function, rv);
    if (classify(rv).needs_recovery) discard(error.message);
    return error;
  }

  // The session is in an unknown state (e.g. an operation left active): close it rather than pool it. `why` goes to
  // the log.
  void discard(std::string why) {
    if (!broken_) broken_reason_ = std::move(why);
    broken_ = true;
  }

 private:
  Impl* impl_;
  CK_SESSION_HANDLE session_;
  std::uint64_t generation_;
  bool broken_ = false;
  std::string broken_reason_;
  std::shared_lock<std::shared_timed_mutex> lock_;
};

Result<void> Hsm::Impl::start(bool first) {
  const auto level = first ? spdlog::level::info : spdlog::level::debug;
  auto initialized = initialize(p11());
  if (!initialized) return std::unexpected(initialized.error());
  // Already initialised means an earlier owner in this process did not finalise; recovery finalises it anyway.
  initialized_ = true;

  auto token = find_token(p11(), options_.token_label, options_.token_serial);
  if (!token) return std::unexpected(token.error());
  {
    std::lock_guard lock(info_mutex_);
    library_description_ = library_description(p11());
    token_label_ = token->label;
    token_serial_ = token->serial;
    hsm_log().log(level, "hsm module initialised path={} library=\"{}\" already_initialised={}", options_.module_path,
                  library_description_, !*initialized);
  }
  slot_ = token->slot;

  const CK_RV rv = p11()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &login_session_);
  if (rv != CKR_OK) {
    login_session_ = CK_INVALID_HANDLE;
    return std::unexpected(failed_call("C_OpenSession", rv));
  }
  if (auto logged_in = login(level); !logged_in) return logged_in;
  return fill_pool();
}

// Logs the outcome, never the PIN.
Result<void> Hsm::Impl::login(spdlog::level::level_enum level) {
  const std::string_view pin = options_.pin.view();
  const CK_RV rv =
      p11()->C_Login(login_session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())),
                     static_cast<CK_ULONG>(pin.size()));
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
    std::lock_guard lock(info_mutex_);
    hsm_log().log(level, "hsm logged in user=CKU_USER token=\"{}\" serial={} already_logged_in={}", token_label_,
                  token_serial_, rv == CKR_USER_ALREADY_LOGGED_IN);
    return {};
  }
  log_failed_call("C_Login", rv);
  return std::unexpected(login_error(rv));
}

Result<void> Hsm::Impl::fill_pool() {
  while (pool_.total() < options_.sessions) {
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    const CK_RV rv = p11()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session);
    if (rv != CKR_OK) return std::unexpected(failed_call("C_OpenSession", rv));
    pool_.add(session);
  }
  hsm_log().debug("hsm session pool filled sessions={}", pool_.total());
  return {};
}

void Hsm::Impl::stop() {
  assert(pool_.in_use() == 0);
  for (CK_SESSION_HANDLE session : pool_.take_free()) p11()->C_CloseSession(session);
  if (login_session_ != CK_INVALID_HANDLE) {
    p11()->C_Logout(login_session_);
    p11()->C_CloseSession(login_session_);
    login_session_ = CK_INVALID_HANDLE;
  }
  if (initialized_) {
    p11()->C_Finalize(nullptr);
    initialized_ = false;
  }
}

// The cheap way back: the login session is alive, so log in again if the login was lost and reopen the discarded
// pool sessions. Object handles stay valid.
Result<void> Hsm::Impl::recover_in_place() {
  if (login_session_ == CK_INVALID_HANDLE) return fail(ErrorCode::kUnavailable, "no login session");
  CK_SESSION_INFO info{};
  if (const CK_RV rv = p11()->C_GetSessionInfo(login_session_, &info); rv != CKR_OK) {
    log_failed_call("C_GetSessionInfo", rv);
    return fail(ErrorCode::kUnavailable, "login session: C_GetSessionInfo: " + ckr_name(rv));
  }
  if (info.state != CKS_RW_USER_FUNCTIONS) {
    if (auto logged_in = login(spdlog::level::debug); !logged_in) return logged_in;
  }
  return fill_pool();
}

Result<void> Hsm::Impl::recover() {
  const auto started_at = Clock::now();
  const auto attempt = ++recovery_attempts_;
  std::string reason;
  {
    std::lock_guard lock(reason_mutex_);
    reason = recovery_reason_.empty() ? "unknown" : recovery_reason_;
  }
  const bool loud = logged_attempt(attempt);
  struct Quiet {
    explicit Quiet(bool on) { quiet_recovery = on; }
    ~Quiet() { quiet_recovery = false; }
  } quiet(!loud);
  if (loud) {
    hsm_log().warn("hsm recovery started attempt={} reason=\"{}\"{}", attempt, reason,
                   attempt == 3 ? " (while it keeps failing, only attempts 4, 8, 16, ... are logged)" : "");
  }
  const char* how = "in_place";
  if (auto in_place = recover_in_place(); !in_place) {
    how = "reinitialise";
    if (loud) {
      hsm_log().info("hsm recovery re-initialising the module attempt={} why=\"{}\"", attempt,
                     in_place.error().message);
    }
    stop();
    {
      std::lock_guard lock(keys_mutex_);
      keys_.clear();
      hmac_keys_.clear();
    }
    generation_.fetch_add(1);
    if (auto started = start(false); !started) {
      if (loud) {
        hsm_log().error("hsm recovery failed attempt={} reason=\"{}\" ms={:.1f}", attempt, started.error().message,
                        ms_since(started_at));
      }
      return fail(ErrorCode::kUnavailable, "HSM recovery failed: " + started.error().message);
    }
  }
  needs_recovery_.store(false);
  const auto recoveries = recoveries_.fetch_add(1) + 1;
  recovery_attempts_ = 0;
  hsm_log().info("hsm recovery finished attempt={} how={} ms={:.1f} recoveries={}", attempt, how, ms_since(started_at),
                 recoveries);
  return {};
}

void Hsm::Impl::flag_for_recovery(std::string reason) {
  {
    std::lock_guard lock(reason_mutex_);
    recovery_reason_ = std::move(reason);
  }
  needs_recovery_.store(true);
  pool_.wake_all();
}

Result<Hsm::Impl::Lease> Hsm::Impl::lease() {
  const auto started = Clock::now();
  const auto deadline = started + options_.lease_timeout;
  const auto timed_out = [&](const char* waiting_for) {
    hsm_log().warn("hsm lease timed out waiting_for={} waited_ms={:.0f} timeout_ms={} sessions={} in_use={}",
                   waiting_for, ms_since(started), options_.lease_timeout.count(), pool_.total(), pool_.in_use());
    return fail(ErrorCode::kUnavailable,
                "no HSM session free within " + std::to_string(options_.lease_timeout.count()) + "ms");
  };
  for (;;) {
    if (needs_recovery_.load()) {
      std::unique_lock exclusive(recovery_mutex_, deadline);
      if (!exclusive.owns_lock()) return timed_out("recovery");
      if (needs_recovery_.load()) {
        if (auto recovered = recover(); !recovered) return std::unexpected(recovered.error());
      }
    }
    std::shared_lock shared(recovery_mutex_, deadline);
    if (!shared.owns_lock()) return timed_out("recovery");
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    switch (pool_.acquire(deadline, needs_recovery_, session)) {
      case SessionPool::Acquired::kSession: return Lease(*this, session, generation_.load(), std::move(shared));
      case SessionPool::Acquired::kStopped: continue;  // drop the shared lock and recover first
      case SessionPool::Acquired::kTimedOut: return timed_out("session");
    }
  }
}

Result<std::vector<CK_OBJECT_HANDLE>> Hsm::Impl::find_objects(Lease& lease, std::span<CK_ATTRIBUTE> match,
                                                              std::size_t max) {
  CK_RV rv = lease.p11()->C_FindObjectsInit(lease.session(), match.data(), static_cast<CK_ULONG>(match.size()));
  if (rv != CKR_OK) return std::unexpected(lease.fail("C_FindObjectsInit", rv));
  struct FindFinal {
    Lease& lease;
    ~FindFinal() { lease.p11()->C_FindObjectsFinal(lease.session()); }
  } find_final{lease};

  std::vector<CK_OBJECT_HANDLE> found;
  CK_OBJECT_HANDLE batch[16];
  while (found.size() < max) {
    CK_ULONG count = 0;
    const auto want = static_cast<CK_ULONG>(std::min<std::size_t>(std::size(batch), max - found.size()));
    rv = lease.p11()->C_FindObjects(lease.session(), batch, want, &count);
    if (rv != CKR_OK) return std::unexpected(lease.fail("C_FindObjects", rv));
    if (count == 0) break;
    found.insert(found.end(), batch, batch + count);
  }
  return found;
}

Result<Bytes> Hsm::Impl::read_attribute(Lease& lease, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  // One call when the value fits a small buffer (EC points and parameters do): each call is another trip through
  // the module and, for SoftHSM's file store, through the object's file.
  std::array<std::uint8_t, 160> small{};
  CK_ATTRIBUTE query = attribute(type, small.data(), small.size());
  CK_RV rv = lease.p11()->C_GetAttributeValue(lease.session(), object, &query, 1);
  if (rv == CKR_OK && query.ulValueLen != CK_UNAVAILABLE_INFORMATION && query.ulValueLen <= small.size()) {
    return Bytes(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(query.ulValueLen));
  }
  if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) return std::unexpected(lease.fail("C_GetAttributeValue", rv));
  query = attribute(type, nullptr, 0);
  rv = lease.p11()->C_GetAttributeValue(lease.session(), object, &query, 1);
  if (rv != CKR_OK) return std::unexpected(lease.fail("C_GetAttributeValue", rv));
  if (query.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return fail(ErrorCode::kInternal, "C_GetAttributeValue: attribute unavailable");
  }
  Bytes value(query.ulValueLen);
  query.pValue = value.data();
  rv = lease.p11()->C_GetAttributeValue(lease.session(), object, &query, 1);
  if (rv != CKR_OK) return std::unexpected(lease.fail("C_GetAttributeValue", rv));
  value.resize(query.ulValueLen);
  return value;
}

Result<Curve> Hsm::Impl::object_curve(Lease& lease, CK_OBJECT_HANDLE object, std::string_view key_id) {
  auto params = read_attribute(lease, object, CKA_EC_PARAMS);
  if (!params) return std::unexpected(params.error());
  const auto curve = curve_from_ec_params(*params);
  if (!curve) {
    return fail(ErrorCode::kInvalidArgument, "key " + std::string(key_id) + " in the HSM is on an unsupported curve");
  }
  return *curve;
}

Result<CK_OBJECT_HANDLE> Hsm::Impl::private_key(Lease& lease, std::string_view key_id, Curve curve, bool& from_cache) {
  const std::string id(key_id);
  CachedKey key{};
  from_cache = false;
  {
    std::lock_guard lock(keys_mutex_);
    if (auto it = keys_.find(id); it != keys_.end()) {
      key = it->second;
      from_cache = true;
    }
  }
  if (!from_cache) {
    const auto searched = Clock::now();
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE match[] = {attribute(CKA_CLASS, &klass, sizeof klass), attribute(CKA_ID, id.data(), id.size())};
    auto found = find_objects(lease, match, 1);
    if (!found) return std::unexpected(found.error());
    hsm_log().debug("hsm key handle cache miss key={} found={} search_ms={:.1f}", id, !found->empty(),
                    ms_since(searched));
    if (found->empty()) return fail(ErrorCode::kNotFound, "no key " + id + " in the HSM");
    auto key_curve = object_curve(lease, found->front(), key_id);
    if (!key_curve) return std::unexpected(key_curve.error());
    key = CachedKey{found->front(), *key_curve};
    std::lock_guard lock(keys_mutex_);
    keys_.insert_or_assign(id, key);
  }
  if (key.curve != curve) {
    return fail(ErrorCode::kInvalidArgument,
                "key " + id + " is a " + to_string(key.curve) + " key, not " + to_string(curve));
  }
  return key.handle;
}

void Hsm::Impl::forget_key(std::string_view key_id) {
  std::lock_guard lock(keys_mutex_);
  keys_.erase(std::string(key_id));
  hmac_keys_.erase(std::string(key_id));
}

Result<std::unique_ptr<Hsm>> Hsm::open(HsmOptions options) {
  if (options.token_label.empty() && options.token_serial.empty()) {
    return fail(ErrorCode::kInvalidArgument, "HSM token label or serial must be set");
  }
  if (options.sessions < 1) return fail(ErrorCode::kInvalidArgument, "HSM sessions must be at least 1");
  if (options.lease_timeout < std::chrono::milliseconds(0) || options.lease_timeout > std::chrono::hours(1)) {
    return fail(ErrorCode::kInvalidArgument, "HSM lease timeout must be between 0 and 1 hour");
  }
  auto module = Module::load(options.module_path);
  if (!module) return std::unexpected(module.error());
  hsm_log().debug("hsm module loaded path={}", options.module_path);
  auto impl = std::make_unique<Impl>(std::move(options), std::move(*module));
  if (auto started = impl->start(true); !started) return std::unexpected(started.error());
  return std::unique_ptr<Hsm>(new Hsm(std::move(impl)));
}

Hsm::Hsm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hsm::~Hsm() = default;

Result<Bytes> Hsm::generate_key(std::string_view key_id, Curve curve) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  const OperationTimer timer("generate_key", curve);
  const std::string id(key_id);
  {
    std::lock_guard lock(impl_->keys_mutex_);
    if (!impl_->generating_.insert(id).second) {
      return fail(ErrorCode::kConflict, "key " + id + " is already being generated");
    }
  }
  struct Unreserve {
    Impl& impl;
    const std::string& id;
    ~Unreserve() {
      std::lock_guard lock(impl.keys_mutex_);
      impl.generating_.erase(id);
    }
  } unreserve{*impl_, id};

  // No C_FindObjects for an existing object with this id: on SoftHSM's file store a search reads every object, so
  // key creation would slow down as the token fills (measured: 60 instead of 103 keys/s with 8 clients). Callers
  // guarantee fresh ids (see hsm.h).
  const auto waited = Clock::now();
  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  const auto generating = Clock::now();

  CK_MECHANISM mechanism{curve == Curve::kEd25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE public_key = CK_INVALID_HANDLE, private_key = CK_INVALID_HANDLE;
  CK_RV rv = CKR_OK;
  // ed25519 is named by OID first (SoftHSM accepts only that); PKCS#11 3.0 also allows the PrintableString.
  for (bool printable_name : {false, true}) {
    const Bytes params = ec_params(curve, printable_name);
    // The public key object is explicitly not private: it holds nothing secret, and some modules would otherwise
    // make it private (encrypted at rest, readable only after login). SoftHSM's key-pair default is already false.
    CK_ATTRIBUTE public_template[] = {
        bool_attribute(CKA_TOKEN, true),
        bool_attribute(CKA_PRIVATE, false),
        bool_attribute(CKA_VERIFY, true),
        attribute(CKA_EC_PARAMS, params.data(), params.size()),
        attribute(CKA_ID, id.data(), id.size()),
        attribute(CKA_LABEL, id.data(), id.size()),
    };
    CK_ATTRIBUTE private_template[] = {
        bool_attribute(CKA_TOKEN, true),
        bool_attribute(CKA_PRIVATE, true),
        bool_attribute(CKA_SENSITIVE, true),
        bool_attribute(CKA_SIGN, true),
        bool_attribute(CKA_EXTRACTABLE, false),
        attribute(CKA_ID, id.data(), id.size()),
        attribute(CKA_LABEL, id.data(), id.size()),
    };
    rv = lease->p11()->C_GenerateKeyPair(lease->session(), &mechanism, public_template, std::size(public_template),
                                         private_template, std::size(private_template), &public_key, &private_key);
    const bool params_refused =
        rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_CURVE_NOT_SUPPORTED;
    if (!(curve == Curve::kEd25519 && params_refused)) break;
  }
  if (rv != CKR_OK) return std::unexpected(lease->fail("C_GenerateKeyPair", rv));

  auto ec_point = impl_->read_attribute(*lease, public_key, CKA_EC_POINT);
  if (!ec_point) return std::unexpected(ec_point.error());
  auto point = unwrap_ec_point(*ec_point, curve);
  if (!point) {
    lease->p11()->C_DestroyObject(lease->session(), private_key);
    lease->p11()->C_DestroyObject(lease->session(), public_key);
    return fail(ErrorCode::kInternal, "the HSM returned a CKA_EC_POINT of " + std::to_string(ec_point->size()) +
                                          " bytes that is not a " + to_string(curve) + " public key");
  }
  {
    std::lock_guard lock(impl_->keys_mutex_);
    impl_->keys_.insert_or_assign(id, Impl::CachedKey{private_key, curve});
  }
  hsm_log().debug("hsm key generated key={} curve={} ms={:.1f} lease_wait_ms={:.1f}", id, to_string(curve),
                  ms_since(generating), std::chrono::duration<double, std::milli>(generating - waited).count());
  return std::move(*point);
}

Result<std::optional<Bytes>> Hsm::find_public_key(std::string_view key_id, Curve curve) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE match[] = {attribute(CKA_CLASS, &klass, sizeof klass), attribute(CKA_ID, key_id.data(), key_id.size())};
  auto found = impl_->find_objects(*lease, match, 1);
  if (!found) return std::unexpected(found.error());
  hsm_log().debug("hsm public key search key={} found={}", key_id, !found->empty());
  if (found->empty()) return std::optional<Bytes>();
  auto key_curve = impl_->object_curve(*lease, found->front(), key_id);
  if (!key_curve) return std::unexpected(key_curve.error());
  if (*key_curve != curve) {
    return fail(ErrorCode::kInvalidArgument,
                "key " + std::string(key_id) + " is a " + to_string(*key_curve) + " key, not " + to_string(curve));
  }
  auto ec_point = impl_->read_attribute(*lease, found->front(), CKA_EC_POINT);
  if (!ec_point) return std::unexpected(ec_point.error());
  auto point = unwrap_ec_point(*ec_point, curve);
  if (!point) {
    return fail(ErrorCode::kInternal, "the HSM returned a CKA_EC_POINT of " + std::to_string(ec_point->size()) +
                                          " bytes that is not a " + to_string(curve) + " public key");
  }
  return point;
}

Result<Bytes> Hsm::sign(std::string_view key_id, Curve curve, std::span<const std::uint8_t> data) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  const OperationTimer timer("sign", curve);
  if (curve == Curve::kEd25519) {
    if (data.empty() || data.size() > kMaxEd25519Message) {
      return fail(ErrorCode::kInvalidArgument,
                  "ed25519 message must be 1.." + std::to_string(kMaxEd25519Message) + " bytes");
    }
  } else if (data.size() != kDigestSize) {
    return fail(ErrorCode::kInvalidArgument, "ECDSA digest must be 32 bytes, not " + std::to_string(data.size()));
  }

  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  CK_MECHANISM mechanism{curve == Curve::kEd25519 ? CKM_EDDSA : CKM_ECDSA, nullptr, 0};
  CK_RV rv = CKR_OK;
  for (bool retried = false;; retried = true) {
    bool from_cache = false;
    auto key = impl_->private_key(*lease, key_id, curve, from_cache);
    if (!key) return std::unexpected(key.error());
    rv = lease->p11()->C_SignInit(lease->session(), &mechanism, *key);
    if (rv == CKR_OK) break;
    // A cached handle can go stale (key destroyed and re-created elsewhere): look it up again, once.
    if (is_stale_handle(rv) && from_cache && !retried) {
      hsm_log().debug("hsm key handle stale key={} rv={}; searching again", key_id, ckr_name(rv));
      impl_->forget_key(key_id);
      continue;
    }
    if (is_stale_handle(rv)) impl_->forget_key(key_id);
    return std::unexpected(lease->fail("C_SignInit", rv));
  }

  Bytes signature(kSignatureSize);
  CK_ULONG size = signature.size();
  auto* input = const_cast<CK_BYTE*>(data.data());
  rv = lease->p11()->C_Sign(lease->session(), input, data.size(), signature.data(), &size);
  if (rv == CKR_BUFFER_TOO_SMALL && size > signature.size() && size <= kMaxSignatureSize) {
    signature.resize(size);  // the operation stays active after CKR_BUFFER_TOO_SMALL
    rv = lease->p11()->C_Sign(lease->session(), input, data.size(), signature.data(), &size);
  }
  // Still active: do not hand the session to anyone else.
  if (rv == CKR_BUFFER_TOO_SMALL) lease->discard("C_Sign: CKR_BUFFER_TOO_SMALL left the operation active");
  if (rv != CKR_OK) return std::unexpected(lease->fail("C_Sign", rv));
  if (size != kSignatureSize) {
    return fail(ErrorCode::kInternal, "C_Sign returned " + std::to_string(size) + " bytes, not 64");
  }
  signature.resize(size);
  return signature;
}

Result<void> Hsm::destroy_key(std::string_view key_id) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  impl_->forget_key(key_id);
  CK_ATTRIBUTE match[] = {attribute(CKA_ID, key_id.data(), key_id.size())};
  auto found = impl_->find_objects(*lease, match, 64);
  if (!found) return std::unexpected(found.error());
  for (CK_OBJECT_HANDLE object : *found) {
    const CK_RV rv = lease->p11()->C_DestroyObject(lease->session(), object);
    if (rv != CKR_OK && !is_stale_handle(rv)) return std::unexpected(lease->fail("C_DestroyObject", rv));
  }
  impl_->forget_key(key_id);  // a concurrent sign may have cached a handle in between
  hsm_log().debug("hsm key destroyed key={} objects={}", key_id, found->size());
  return {};
}

namespace {
constexpr std::size_t kMinHmacKey = 32;    // SoftHSM's CKM_SHA256_HMAC minimum; HMAC-SHA256 keys below 32 bytes are weak
constexpr std::size_t kMaxHmacKey = 512;
constexpr std::size_t kMaxHmacData = 1 << 20;
constexpr std::size_t kHmacSize = 32;
}  // namespace

Result<void> Hsm::import_hmac_key(std::string_view key_id, std::span<const std::uint8_t> secret) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  if (secret.size() < kMinHmacKey || secret.size() > kMaxHmacKey) {
    return fail(ErrorCode::kInvalidArgument, "an HMAC key must be " + std::to_string(kMinHmacKey) + ".." +
                                                 std::to_string(kMaxHmacKey) + " bytes");
  }
  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  const std::string id(key_id);
  CK_ATTRIBUTE key_template[] = {
      attribute(CKA_CLASS, &klass, sizeof klass),
      attribute(CKA_KEY_TYPE, &type, sizeof type),
      bool_attribute(CKA_TOKEN, true),
      bool_attribute(CKA_PRIVATE, true),
      bool_attribute(CKA_SENSITIVE, true),
      bool_attribute(CKA_EXTRACTABLE, false),
      bool_attribute(CKA_SIGN, true),
      bool_attribute(CKA_VERIFY, true),
      attribute(CKA_VALUE, secret.data(), secret.size()),
      attribute(CKA_ID, id.data(), id.size()),
      attribute(CKA_LABEL, id.data(), id.size()),
  };
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  const CK_RV rv = lease->p11()->C_CreateObject(lease->session(), key_template, std::size(key_template), &handle);
  if (rv != CKR_OK) return std::unexpected(lease->fail("C_CreateObject", rv));
  {
    std::lock_guard lock(impl_->keys_mutex_);
    impl_->hmac_keys_.insert_or_assign(id, handle);
  }
  hsm_log().debug("hsm hmac key imported key={} bytes={}", id, secret.size());
  return {};
}

Result<Bytes> Hsm::hmac_sha256(std::string_view key_id, std::span<const std::uint8_t> data) {
  if (auto ok = check_key_id(key_id); !ok) return std::unexpected(ok.error());
  if (data.size() > kMaxHmacData) return fail(ErrorCode::kInvalidArgument, "HMAC input is larger than 1 MiB");
  auto lease = impl_->lease();
  if (!lease) return std::unexpected(lease.error());
  const std::string id(key_id);
  CK_MECHANISM mechanism{CKM_SHA256_HMAC, nullptr, 0};
  CK_RV rv = CKR_OK;
  for (bool retried = false;; retried = true) {
    std::optional<CK_OBJECT_HANDLE> handle;
    {
      std::lock_guard lock(impl_->keys_mutex_);
      if (auto it = impl_->hmac_keys_.find(id); it != impl_->hmac_keys_.end()) handle = it->second;
    }
    const bool from_cache = handle.has_value();
    if (!handle) {
      CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
      CK_ATTRIBUTE match[] = {attribute(CKA_CLASS, &klass, sizeof klass), attribute(CKA_ID, id.data(), id.size())};
      auto found = impl_->find_objects(*lease, match, 1);
      if (!found) return std::unexpected(found.error());
      hsm_log().debug("hsm hmac key handle cache miss key={} found={}", id, !found->empty());
      if (found->empty()) return fail(ErrorCode::kNotFound, "no HMAC key " + id + " in the HSM");
      handle = found->front();
      std::lock_guard lock(impl_->keys_mutex_);
      impl_->hmac_keys_.insert_or_assign(id, *handle);
    }
    rv = lease->p11()->C_SignInit(lease->session(), &mechanism, *handle);
    if (rv == CKR_OK) break;
    if (is_stale_handle(rv)) {
      std::lock_guard lock(impl_->keys_mutex_);
      impl_->hmac_keys_.erase(id);
      if (from_cache && !retried) continue;
    }
    return std::unexpected(lease->fail("C_SignInit", rv));
  }
  Bytes mac(kHmacSize);
  CK_ULONG size = mac.size();
  CK_BYTE nothing = 0;  // modules refuse a null pointer even for no data
  auto* input = data.empty() ? &nothing : const_cast<CK_BYTE*>(data.data());
  rv = lease->p11()->C_Sign(lease->session(), input, data.size(), mac.data(), &size);
  if (rv == CKR_BUFFER_TOO_SMALL) lease->discard("C_Sign: CKR_BUFFER_TOO_SMALL left the operation active");
  if (rv != CKR_OK) return std::unexpected(lease->fail("C_Sign", rv));
  if (size != kHmacSize) return fail(ErrorCode::kInternal, "C_Sign returned " + std::to_string(size) + " bytes, not 32");
  return mac;
}

Result<void> Hsm::check() {
  const auto deadline = Clock::now() + impl_->options_.lease_timeout;
  if (!impl_->needs_recovery_.load()) {
    std::shared_lock shared(impl_->recovery_mutex_, deadline);
    if (!shared.owns_lock()) return fail(ErrorCode::kUnavailable, "HSM busy recovering");
    if (!impl_->needs_recovery_.load()) {
      CK_SESSION_INFO info{};
      const CK_RV rv = impl_->p11()->C_GetSessionInfo(impl_->login_session_, &info);
      if (rv == CKR_OK && info.state == CKS_RW_USER_FUNCTIONS) return {};
      if (rv != CKR_OK) log_failed_call("C_GetSessionInfo", rv);
      impl_->flag_for_recovery(rv != CKR_OK
                                   ? "login session: C_GetSessionInfo: " + ckr_name(rv)
                                   : "login session no longer logged in (state " + std::to_string(info.state) + ")");
    }
  }
  std::unique_lock exclusive(impl_->recovery_mutex_, deadline);
  if (!exclusive.owns_lock()) return fail(ErrorCode::kUnavailable, "HSM busy recovering");
  if (impl_->needs_recovery_.load()) return impl_->recover();
  return {};
}

HsmStatus Hsm::status() const {
  HsmStatus status;
  {
    std::lock_guard lock(impl_->info_mutex_);
    status.library_description = impl_->library_description_;
    status.token_label = impl_->token_label_;
    status.token_serial = impl_->token_serial_;
  }
  status.sessions_total = impl_->pool_.total();
  status.sessions_in_use = impl_->pool_.in_use();
  status.recoveries = impl_->recoveries_.load();
  std::shared_lock shared(impl_->recovery_mutex_, std::try_to_lock);  // during recovery: not logged in
  if (shared.owns_lock() && !impl_->needs_recovery_.load() && impl_->login_session_ != CK_INVALID_HANDLE) {
    CK_SESSION_INFO info{};
    status.logged_in =
        impl_->p11()->C_GetSessionInfo(impl_->login_session_, &info) == CKR_OK && info.state == CKS_RW_USER_FUNCTIONS;
  }
  return status;
}

}  // namespace signerd::hsm
