#include "common/core/rfc3339.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace skr {

std::string formatRfc3339(SystemTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

StatusOr<SystemTime> parseRfc3339(std::string_view text) {
  const auto bad = [&text](const char* why) {
    return invalidArgumentError("'" + std::string(text.substr(0, 64)) +
                                "' is not an RFC 3339 time (" + why +
                                "), e.g. 2026-01-02T03:04:05Z");
  };
  std::size_t pos = 0;
  auto digits = [&](std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text[pos + i];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
  };
  auto expect = [&](const char* options) {
    if (pos >= text.size()) return false;
    for (const char* o = options; *o != '\0'; ++o) {
      if (text[pos] == *o) {
        ++pos;
        return true;
      }
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, year) || !expect("-") || !digits(2, month) || !expect("-") || !digits(2, day) ||
      !expect("Tt ") || !digits(2, hour) || !expect(":") || !digits(2, minute) || !expect(":") ||
      !digits(2, second)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == start) return bad("empty fraction");
  }
  int offset_seconds = 0;
  if (expect("Zz")) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!digits(2, oh) || !expect(":") || !digits(2, om) || oh > 23 || om > 59) {
      return bad("bad offset");
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (pos != text.size()) return bad("trailing characters");
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour > 23 || minute > 59 ||
      second > 60) {
    return bad("field out of range");
  }
  // system_clock counts int64 nanoseconds: years outside 1678..2261 would overflow (UB).
  if (year < 1678 || year > 2261) return bad("year outside 1678..2261");
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return bad("field out of range");
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second == 60 ? 59 : second;  // a leap second reads as :59
  const std::time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t) - std::chrono::seconds(offset_seconds);
}

}  // namespace skr
