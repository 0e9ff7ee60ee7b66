// The BRAID_* parameter registry: parses each variable once into a typed struct and describes
// them all (name, type, default, current value, doc) for braid-info.
#include "params.h"

#include <cstdlib>
#include <mutex>
#include <sstream>

namespace braid {
namespace {

bool parseValue(const std::string& text, bool* out) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return *out = true, true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return *out = false, true;
  return false;
}
bool parseValue(const std::string& text, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str()) return false;
  // Binary suffixes: 256K, 4M, 1G.
  int64_t mult = 1;
  std::string rest(end);
  if (rest == "K" || rest == "k")
    mult = 1 << 10;
  else if (rest == "M" || rest == "m")
    mult = 1 << 20;
  else if (rest == "G" || rest == "g")
    mult = int64_t{1} << 30;
  else if (!rest.empty())
    return false;
  *out = static_cast<int64_t>(v) * mult;
  return true;
}
bool parseValue(const std::string& text, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0') return false;
  *out = v;
  return true;
}
bool parseValue(const std::string& text, std::string* out) {
  *out = text;
  return true;
}

std::string show(bool v) { return v ? "1" : "0"; }
std::string show(int64_t v) { return std::to_string(v); }
std::string show(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
std::string show(const std::string& v) { return v; }

template <typename T>
const char* typeName();
template <>
const char* typeName<bool>() {
  return "bool";
}
template <>
const char* typeName<int64_t>() {
  return "int";
}
template <>
const char* typeName<double>() {
  return "float";
}
template <>
const char* typeName<std::string>() {
  return "string";
}

struct State {
  std::mutex mu;
  bool loaded = false;
  Params params;
  Status status;
};
State& state() {
  static State s;
  return s;
}

void load(State& s) {
  s.params = Params();
  s.status = Status();
#define BRAID_PARAM(field, name, type, def, doc)                                        \
  if (const char* env = std::getenv(name); env != nullptr) {                            \
    type v{};                                                                           \
    if (parseValue(env, &v)) {                                                          \
      s.params.field = v;                                                               \
    } else if (s.status.isOk()) {                                                       \
      s.status = invalidArgument(std::string(name) + "='" + env + "' is not a valid " + \
                                 typeName<type>());                                     \
    }                                                                                   \
  }
#include "params.def"
#undef BRAID_PARAM
  s.loaded = true;
}

}  // namespace

const Params& params() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.loaded) load(s);
  return s.params;
}

Status paramsStatus() {
  params();
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.status;
}

void reloadParams() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  load(s);
}

std::vector<ParamInfo> describeParams() {
  const Params& p = params();
  std::vector<ParamInfo> out;
#define BRAID_PARAM(FIELD, NAME, TYPE, DEF, DOC)         \
  {                                                      \
    ParamInfo info;                                      \
    info.name = NAME;                                    \
    info.type = typeName<TYPE>();                        \
    info.defaultValue = show(TYPE(DEF));                 \
    info.value = show(p.FIELD);                          \
    info.fromEnvironment = std::getenv(NAME) != nullptr; \
    info.doc = DOC;                                      \
    out.push_back(std::move(info));                      \
  }
#include "params.def"
#undef BRAID_PARAM
  return out;
}

}  // namespace braid
