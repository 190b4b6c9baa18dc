#include "emulator/fault_injector.h"

#include <Poco/JSON/Object.h>

#include <algorithm>

namespace skr::emulator {

std::string_view faultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::Status: return "status";
    case FaultKind::Delay: return "delay";
    case FaultKind::Close: return "close";
    case FaultKind::Truncate: return "truncate";
    case FaultKind::Corrupt: return "corrupt";
    case FaultKind::WrongKey: return "wrong_key";
    case FaultKind::SlowBody: return "slow_body";
    case FaultKind::ContentType: return "content_type";
  }
  return "status";
}

StatusOr<FaultKind> faultKindFromName(std::string_view name) {
  for (FaultKind k :
       {FaultKind::Status, FaultKind::Delay, FaultKind::Close, FaultKind::Truncate,
        FaultKind::Corrupt, FaultKind::WrongKey, FaultKind::SlowBody, FaultKind::ContentType}) {
    if (faultKindName(k) == name) return k;
  }
  return invalidArgumentError("fault member 'action': unknown action '" + std::string(name) +
                              "' (expected status, delay, close, truncate, corrupt, wrong_key, "
                              "slow_body, content_type)");
}

StatusOr<FaultRule> FaultRule::fromJson(const json::ObjectPtr& object) {
  FaultRule rule;
  SKR_ASSIGN_OR_RETURN(rule.listener, json::getOptionalString(object, "listener"));
  SKR_ASSIGN_OR_RETURN(rule.method, json::getOptionalString(object, "method"));
  SKR_ASSIGN_OR_RETURN(rule.path_prefix, json::getOptionalString(object, "path"));
  SKR_ASSIGN_OR_RETURN(rule.path_regex, json::getOptionalString(object, "path_regex"));
  if (rule.listener && *rule.listener == "admin") {
    return invalidArgumentError("fault member 'listener': the admin listener cannot be faulted");
  }
  if (rule.path_regex && rule.path_regex->size() > 512) {
    return invalidArgumentError("fault member 'path_regex': longer than 512 characters");
  }
  if (rule.path_prefix && (rule.path_prefix->empty() || rule.path_prefix->front() != '/')) {
    return invalidArgumentError("fault member 'path': must start with '/'");
  }
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> count, json::getOptionalInt(object, "count"));
  if (count && (*count < 1 || *count > kMaxFaultCount)) {
    return invalidArgumentError("fault member 'count': " + std::to_string(*count) +
                                " is not in 1.." + std::to_string(kMaxFaultCount));
  }
  rule.remaining = count ? static_cast<int>(*count) : 1;
  SKR_ASSIGN_OR_RETURN(std::string action, json::getString(object, "action"));
  SKR_ASSIGN_OR_RETURN(rule.kind, faultKindFromName(action));
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> status, json::getOptionalInt(object, "status"));
  if (status && (*status < 200 || *status > 599)) {
    return invalidArgumentError("fault member 'status': " + std::to_string(*status) +
                                " is not in 200..599");
  }
  if (status) rule.status = static_cast<int>(*status);
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> retry, json::getOptionalInt(object, "retry_after"));
  if (retry && (*retry < 0 || *retry > 86400)) {
    return invalidArgumentError("fault member 'retry_after': not in 0..86400 seconds");
  }
  if (retry) rule.retry_after_seconds = static_cast<int>(*retry);
  SKR_ASSIGN_OR_RETURN(std::optional<int64_t> delay, json::getOptionalInt(object, "delay_ms"));
  if (delay && (*delay < 0 || *delay > kMaxFaultDelayMs)) {
    return invalidArgumentError("fault member 'delay_ms': not in 0.." +
                                std::to_string(kMaxFaultDelayMs));
  }
  if ((rule.kind == FaultKind::Delay || rule.kind == FaultKind::SlowBody) && !delay) {
    return invalidArgumentError("fault member 'delay_ms': required for action '" + action + "'");
  }
  if (delay) rule.delay_ms = static_cast<int>(*delay);
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> body, json::getOptionalString(object, "body"));
  if (body && body->size() > 64 * 1024) {
    return invalidArgumentError("fault member 'body': larger than 64 KiB");
  }
  if (body) rule.body = std::move(*body);
  SKR_ASSIGN_OR_RETURN(std::optional<std::string> content_type,
                       json::getOptionalString(object, "content_type"));
  if (content_type) {
    if (rule.kind != FaultKind::ContentType) {
      return invalidArgumentError("fault member 'content_type': only for action 'content_type'");
    }
    if (content_type->empty() || content_type->size() > kMaxFaultContentType) {
      return invalidArgumentError("fault member 'content_type': empty or longer than " +
                                  std::to_string(kMaxFaultContentType) + " characters");
    }
    for (char c : *content_type) {
      if (c < 0x20 || c == 0x7f) {
        return invalidArgumentError("fault member 'content_type': control character");
      }
    }
    rule.content_type = std::move(*content_type);
  } else if (rule.kind == FaultKind::ContentType) {
    rule.content_type = kDefaultFaultContentType;
  }
  return rule;
}

json::ObjectPtr FaultRule::toJson() const {
  json::ObjectPtr o = new Poco::JSON::Object;
  o->set("id", static_cast<Poco::Int64>(id));
  if (listener) o->set("listener", *listener);
  if (method) o->set("method", *method);
  if (path_prefix) o->set("path", *path_prefix);
  if (path_regex) o->set("path_regex", *path_regex);
  o->set("count", remaining);
  o->set("action", std::string(faultKindName(kind)));
  if (kind == FaultKind::Status) o->set("status", status);
  if (retry_after_seconds) o->set("retry_after", *retry_after_seconds);
  if (kind == FaultKind::Delay || kind == FaultKind::SlowBody) o->set("delay_ms", delay_ms);
  if (kind == FaultKind::ContentType) o->set("content_type", content_type);
  return o;
}

StatusOr<int64_t> FaultInjector::add(FaultRule rule) {
  std::optional<Pattern> regex;
  if (rule.path_regex) {
    StatusOr<Pattern> compiled = Pattern::compile(*rule.path_regex);
    if (!compiled.ok()) return compiled.status().withContext("fault member 'path_regex'");
    regex = std::move(compiled).value();
  }
  std::lock_guard lock(mutex_);
  if (rules_.size() >= kMaxFaultRules) {
    return resourceExhaustedError("faults: more than " + std::to_string(kMaxFaultRules) +
                                  " rules are active");
  }
  rule.id = next_id_++;
  const int64_t id = rule.id;
  rules_.push_back(Live{std::move(rule), std::move(regex)});
  return id;
}

std::optional<FaultAction> FaultInjector::take(const std::string& listener,
                                               const std::string& method, const std::string& path) {
  if (listener == "admin") return std::nullopt;
  std::lock_guard lock(mutex_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    const FaultRule& r = it->rule;
    if (r.listener && *r.listener != listener) continue;
    if (r.method && *r.method != method) continue;
    if (r.path_prefix && path.compare(0, r.path_prefix->size(), *r.path_prefix) != 0) continue;
    if (it->regex && !it->regex->matches(path)) continue;
    FaultAction action{r.id,       r.kind, r.status,      r.retry_after_seconds,
                       r.delay_ms, r.body, r.content_type};
    if (--it->rule.remaining <= 0) rules_.erase(it);
    return action;
  }
  return std::nullopt;
}

std::vector<FaultRule> FaultInjector::list() const {
  std::lock_guard lock(mutex_);
  std::vector<FaultRule> out;
  for (const Live& l : rules_) out.push_back(l.rule);
  return out;
}

void FaultInjector::clear() {
  std::lock_guard lock(mutex_);
  rules_.clear();
}

void corruptBody(std::string& body) {
  if (body.empty()) {
    body = "\x7f";  // an empty body cannot differ in place; one junk byte is the corruption
    return;
  }
  const std::size_t start = body.size() / 3;
  const std::size_t end = std::min(body.size(), start + 16);
  for (std::size_t i = start; i < end; ++i) body[i] = static_cast<char>(body[i] ^ 0x5a);
}

}  // namespace skr::emulator
