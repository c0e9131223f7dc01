/* The TOML parser: toml++ (Debian's libtomlplusplus, a shared library) behind
 * a C function. Exceptions never cross into C: toml::parse_error becomes a
 * lunar_error with the position, anything else (std::bad_alloc) LUNAR_ENOMEM. */
#include "toml/toml.h"

#include <sstream>
#include <string>
#include <toml++/toml.h>

namespace {

/* Owns one jansson reference until released (keeps every exit leak-free). */
struct ref {
  json_t *v;
  explicit ref(json_t *p) : v(p) {
    if (!v) throw std::bad_alloc();
  }
  ~ref() { json_decref(v); }
  ref(const ref &) = delete;
  ref &operator=(const ref &) = delete;
  json_t *release() {
    json_t *p = v;
    v = nullptr;
    return p;
  }
};

void note_line(json_t *lines, const std::string &path, const toml::source_region &src) {
  if (!lines || src.begin.line == 0) return;
  if (json_object_set_new(lines, path.c_str(), json_integer((json_int_t)src.begin.line)))
    throw std::bad_alloc();
}

json_t *convert(const toml::node &n, const std::string &path, json_t *lines);

json_t *convert_table(const toml::table &t, const std::string &path, json_t *lines) {
  ref obj(json_object());
  for (auto &&[key, value] : t) {
    std::string k(key.str());
    std::string sub = path.empty() ? k : path + "." + k;
    note_line(lines, sub, key.source());
    if (json_object_setn_new(obj.v, k.data(), k.size(), convert(value, sub, lines)))
      throw std::bad_alloc();
  }
  return obj.release();
}

json_t *convert_array(const toml::array &a, const std::string &path, json_t *lines) {
  ref arr(json_array());
  size_t i = 0;
  for (auto &&value : a) {
    std::string sub = path + "[" + std::to_string(++i) + "]";
    note_line(lines, sub, value.source());
    if (json_array_append_new(arr.v, convert(value, sub, lines))) throw std::bad_alloc();
  }
  return arr.release();
}

template <typename T>
json_t *as_text(const T &value) {
  std::ostringstream s;
  s << value;
  std::string text = s.str();
  return json_stringn(text.data(), text.size());
}

json_t *convert(const toml::node &n, const std::string &path, json_t *lines) {
  json_t *v = nullptr;
  switch (n.type()) {
    case toml::node_type::table: return convert_table(*n.as_table(), path, lines);
    case toml::node_type::array: return convert_array(*n.as_array(), path, lines);
    case toml::node_type::string: {
      const std::string &s = n.as_string()->get();
      v = json_stringn(s.data(), s.size());
      break;
    }
    case toml::node_type::integer: v = json_integer((json_int_t)n.as_integer()->get()); break;
    case toml::node_type::floating_point: v = json_real(n.as_floating_point()->get()); break;
    case toml::node_type::boolean: v = json_boolean(n.as_boolean()->get()); break;
    case toml::node_type::date: v = as_text(n.as_date()->get()); break;
    case toml::node_type::time: v = as_text(n.as_time()->get()); break;
    case toml::node_type::date_time: v = as_text(n.as_date_time()->get()); break;
    default: v = json_null(); break;
  }
  if (!v) throw std::bad_alloc();
  return v;
}

}  // namespace

extern "C" int lunar_toml_parse(const char *text, size_t len, const char *name, json_t **out,
                                json_t **lines, lunar_error *err) {
  *out = nullptr;
  if (lines) *lines = nullptr;
  if (!name) name = "TOML";
  json_t *where = nullptr;
  try {
    toml::table doc = toml::parse(std::string_view(text, len), std::string_view(name));
    if (lines) where = json_object();
    if (lines && !where) throw std::bad_alloc();
    *out = convert_table(doc, "", where);
    if (lines) *lines = where;
    return LUNAR_OK;
  } catch (const toml::parse_error &e) {
    json_decref(where);
    const toml::source_region &src = e.source();
    std::string msg(e.description());
    return lunar_error_set(err, LUNAR_EINVAL, "%s:%u:%u: %s", name, (unsigned)src.begin.line,
                           (unsigned)src.begin.column, msg.c_str());
  } catch (...) {
    json_decref(where);
    return lunar_error_set(err, LUNAR_ENOMEM, "%s: out of memory while reading TOML", name);
  }
}
