#include "cli/hsm_commands.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdio>

#include "cli/exit_codes.h"
#include "common/secret.h"
#include "hsm/inspect.h"
#include "hsm/token_setup.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

void print_err(const std::string& message) { std::fprintf(stderr, "signerctl: %s\n", message.c_str()); }

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

json::value report_json(const hsm::InspectReport& r) {
  json::array slots;
  for (const auto& s : r.slots) {
    json::object slot{{"slotId", s.slot_id},
                      {"description", s.description},
                      {"tokenPresent", s.token_present},
                      {"selected", s.selected}};
    if (s.token_present) {
      slot["token"] = json::object{{"initialized", s.token_initialized},
                                   {"userPinInitialized", s.user_pin_initialized},
                                   {"label", s.label},
                                   {"serial", s.serial},
                                   {"manufacturer", s.manufacturer},
                                   {"model", s.model}};
    }
    slots.push_back(std::move(slot));
  }
  json::array mechanisms;
  for (const auto& m : r.mechanisms) {
    json::object o{{"name", m.name}, {"purpose", m.purpose}, {"offered", m.offered}};
    if (m.offered) {
      o["minKeySize"] = m.min_key_size;
      o["maxKeySize"] = m.max_key_size;
      o["flags"] = json::array(m.flags.begin(), m.flags.end());
    }
    if (!m.error.empty()) o["error"] = m.error;
    mechanisms.push_back(std::move(o));
  }
  json::array findings;
  for (const auto& f : r.findings) {
    findings.push_back(json::object{{"label", f.label},
                                    {"id", f.id_hex},
                                    {"keyType", f.key_type},
                                    {"problems", json::array(f.problems.begin(), f.problems.end())}});
  }
  json::object token{{"found", r.token_found}};
  if (r.token_found) {
    token["slotId"] = r.token_slot;
    token["label"] = r.token_label;
    token["serial"] = r.token_serial;
  } else {
    token["error"] = r.token_error;
  }
  json::object login{{"outcome", hsm::to_string(r.login)}};
  if (!r.login_error.empty()) login["error"] = r.login_error;
  json::object scan{{"privateKeysScanned", nullptr}};
  if (r.private_keys_scanned) scan["privateKeysScanned"] = *r.private_keys_scanned;
  if (!r.scan_error.empty()) scan["error"] = r.scan_error;
  return json::object{{"ok", r.ok()},
                      {"module", r.module_path},
                      {"library", json::object{{"description", r.library_description},
                                               {"manufacturer", r.library_manufacturer},
                                               {"version", r.library_version}}},
                      {"cryptokiVersion", r.cryptoki_version},
                      {"slots", std::move(slots)},
                      {"token", std::move(token)},
                      {"mechanisms", std::move(mechanisms)},
                      {"login", std::move(login)},
                      {"scan", std::move(scan)},
                      {"findings", std::move(findings)}};
}

void print_report(const hsm::InspectReport& r) {
  std::printf("module        %s\n", r.module_path.c_str());
  std::printf("library       %s (%s, version %s)\n", r.library_description.c_str(), r.library_manufacturer.c_str(),
              r.library_version.c_str());
  std::printf("cryptoki      %s\n", r.cryptoki_version.c_str());
  std::printf("slots         %zu\n", r.slots.size());
  for (const auto& s : r.slots) {
    std::string what;
    if (!s.token_present) {
      what = "no token";
    } else if (!s.token_initialized) {
      what = "uninitialised token";
    } else {
      what = "token '" + s.label + "' serial " + s.serial + " (" + s.manufacturer + " " + s.model + ")";
      if (!s.user_pin_initialized) what += ", user PIN not initialised";
    }
    std::printf("  slot %-10llu %s%s\n", static_cast<unsigned long long>(s.slot_id), what.c_str(),
                s.selected ? "  <- selected" : "");
  }
  if (!r.token_found) {
    std::printf("token         NOT FOUND: %s\n", r.token_error.c_str());
    return;
  }
  std::printf("token         '%s' serial %s (slot %llu)\n", r.token_label.c_str(), r.token_serial.c_str(),
              static_cast<unsigned long long>(r.token_slot));
  std::printf("mechanisms\n");
  std::size_t width = 0;
  for (const auto& m : r.mechanisms) width = std::max(width, m.name.size());
  for (const auto& m : r.mechanisms) {
    if (m.offered) {
      std::printf("  %-*s  offered  key size %llu-%llu bits  %s\n", static_cast<int>(width), m.name.c_str(),
                  static_cast<unsigned long long>(m.min_key_size), static_cast<unsigned long long>(m.max_key_size),
                  join(m.flags, ",").c_str());
    } else {
      std::printf("  %-*s  MISSING  (needed to %s)%s%s\n", static_cast<int>(width), m.name.c_str(), m.purpose.c_str(),
                  m.error.empty() ? "" : ": ", m.error.c_str());
    }
  }
  switch (r.login) {
    case hsm::LoginOutcome::kNotAttempted: std::printf("login         not checked (no --pin-file)\n"); return;
    case hsm::LoginOutcome::kOk: std::printf("login         ok\n"); break;
    case hsm::LoginOutcome::kPinRefused:
    case hsm::LoginOutcome::kFailed: std::printf("login         FAILED: %s\n", r.login_error.c_str()); return;
  }
  if (r.private_keys_scanned) {
    std::printf("private keys  %llu scanned, %zu finding%s\n", static_cast<unsigned long long>(*r.private_keys_scanned),
                r.findings.size(), r.findings.size() == 1 ? "" : "s");
  }
  if (!r.scan_error.empty()) std::printf("private keys  scan FAILED: %s\n", r.scan_error.c_str());
  for (const auto& f : r.findings) {
    std::printf("  FINDING: %s key '%s' (id %s) can leave the token: %s\n", f.key_type.c_str(), f.label.c_str(),
                f.id_hex.empty() ? "none" : f.id_hex.c_str(), join(f.problems, ", ").c_str());
  }
}

}  // namespace

int run_hsm_init_token(const std::string& module, const std::string& label, const std::string& so_pin_file,
                       const std::string& pin_file) {
  auto so_pin = read_secret_file(so_pin_file, /*allow_group_readable=*/false);
  if (!so_pin) {
    print_err(so_pin.error().message);
    return kExitUsage;
  }
  auto pin = read_secret_file(pin_file, /*allow_group_readable=*/false);
  if (!pin) {
    print_err(pin.error().message);
    return kExitUsage;
  }
  auto serial = hsm::initialize_token({module, label, std::move(*so_pin), std::move(*pin)});
  if (!serial) {
    print_err(serial.error().message);
    return serial.error().code == ErrorCode::kConflict ? kExitConflict : kExitFailed;
  }
  std::printf("initialised token '%s' (serial %s)\n", label.c_str(), serial->c_str());
  return kExitOk;
}

int run_hsm_check(const HsmCheckArgs& args) {
  hsm::InspectRequest request{args.module, args.token_label, args.token_serial, std::nullopt};
  if (args.pin_file) {
    // 0640 is allowed: the daemon's own PIN file is commonly root:signerd 0640.
    auto pin = read_secret_file(*args.pin_file, /*allow_group_readable=*/true);
    if (!pin) {
      print_err(pin.error().message);
      return kExitUsage;
    }
    request.pin = std::move(*pin);
  }
  auto report = hsm::inspect_token(request);
  if (!report) {
    print_err(report.error().message);
    return kExitFailed;
  }
  if (args.json) {
    std::printf("%s\n", json::serialize(report_json(*report)).c_str());
  } else {
    print_report(*report);
  }

  // Problems on stderr too, so they show when stdout goes to a file or a JSON parser.
  if (!report->token_found) {
    print_err(report->token_error);
    return kExitNotFound;
  }
  if (report->login == hsm::LoginOutcome::kPinRefused) {
    print_err("login refused: " + report->login_error);
    return kExitUnauthorized;
  }
  if (report->ok()) {
    if (!args.json) std::printf("result        ok\n");
    return kExitOk;
  }
  std::vector<std::string> problems;
  if (!report->mechanisms_ok()) problems.emplace_back("mechanisms missing");
  if (report->login == hsm::LoginOutcome::kFailed) problems.push_back("login failed: " + report->login_error);
  if (!report->scan_error.empty()) problems.push_back("key scan failed: " + report->scan_error);
  if (!report->findings.empty()) {
    problems.push_back(std::to_string(report->findings.size()) + " private key(s) can leave the token");
  }
  if (!args.json) std::printf("result        FAILED\n");
  print_err("hsm check: " + join(problems, "; "));
  return kExitFailed;
}

}  // namespace signerd::cli
