// simdjson 3.0.1 behind the C interface in simdjson_shim.h, for the JSON bench.
#include "simdjson_shim.h"

#include <simdjson.h>

using namespace simdjson;

struct sj_parser {
    dom::parser dom;
    ondemand::parser od;
    size_t max_depth;
};

extern "C" sj_parser_t *sj_parser_new(size_t max_depth)
{
    sj_parser_t *p = new sj_parser;
    p->max_depth = max_depth;
    // simdjson's DOM counts the innermost scalar as a level too: max_depth + 1 admits exactly
    // max_depth nested arrays/objects.
    if (p->dom.allocate(1 << 20, max_depth + 1) != SUCCESS || p->od.allocate(1 << 20, max_depth) != SUCCESS) {
        delete p;
        return nullptr;
    }
    return p;
}

extern "C" void sj_parser_free(sj_parser_t *p) { delete p; }
extern "C" const char *sj_error_message(int code) { return error_message(error_code(code)); }
extern "C" const char *sj_implementation(void) { return get_active_implementation()->name().c_str(); }
// builtin_implementation() lives in libsimdjson.so (built for baseline x86-64), so ask the
// macro this file was compiled with instead.
extern "C" const char *sj_builtin(void) { return SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION); }
extern "C" const char *sj_version(void) { return SIMDJSON_STRINGIFY(SIMDJSON_VERSION); }

// simdjson 3.0.1's on-demand document has no at_end(): a readable current location after the
// value means something follows it.
static bool trailing(ondemand::document &doc)
{
    const char *at;
    return doc.current_location().get(at) == SUCCESS;
}

extern "C" int sj_dom_parse(sj_parser_t *p, const char *buf, size_t len, sj_fields_t *f)
{
    dom::element doc;
    auto err = p->dom.parse(reinterpret_cast<const uint8_t *>(buf), len, false).get(doc);
    if (err)
        return err;
    if (f) {
        std::string_view uid;
        if ((err = doc.at_pointer("/user_id").get(uid)) || (err = doc.at_pointer("/ts").get(f->ts)))
            return err;
        f->user_id = uid.data();
        f->user_id_len = uid.size();
    }
    return 0;
}

// Visit a value completely so that on-demand checks it, enforcing the depth limit.
static error_code walk(ondemand::value v, size_t depth, size_t max_depth)
{
    ondemand::json_type t;
    auto err = v.type().get(t);
    if (err)
        return err;
    switch (t) {
    case ondemand::json_type::object: {
        if (depth > max_depth)
            return DEPTH_ERROR;
        ondemand::object o;
        if ((err = v.get_object().get(o)))
            return err;
        for (auto field : o) {
            std::string_view key;
            if ((err = field.unescaped_key().get(key)) || (err = walk(field.value(), depth + 1, max_depth)))
                return err;
        }
        return SUCCESS;
    }
    case ondemand::json_type::array: {
        if (depth > max_depth)
            return DEPTH_ERROR;
        ondemand::array a;
        if ((err = v.get_array().get(a)))
            return err;
        for (auto el : a) {
            ondemand::value ev;
            if ((err = el.get(ev)) || (err = walk(ev, depth + 1, max_depth)))
                return err;
        }
        return SUCCESS;
    }
    case ondemand::json_type::number: {
        ondemand::number n;
        return v.get_number().get(n);
    }
    case ondemand::json_type::string: {
        std::string_view s;
        return v.get_string().get(s);
    }
    case ondemand::json_type::boolean: {
        bool b;
        return v.get_bool().get(b);
    }
    case ondemand::json_type::null: {
        bool isnull;
        if ((err = v.is_null().get(isnull)))
            return err;
        return isnull ? SUCCESS : INCORRECT_TYPE;
    }
    }
    return TAPE_ERROR;
}

static long location(ondemand::document &doc, const char *buf)
{
    const char *at;
    if (doc.current_location().get(at))
        return -1;
    return long(at - buf);
}

extern "C" int sj_od_parse(sj_parser_t *p, const char *buf, size_t len, sj_fields_t *f, long *err_at)
{
    ondemand::document doc;
    *err_at = -1;
    auto err = p->od.iterate(buf, len, len + SJ_PADDING).get(doc);
    if (err)
        return err;
    if (f) {
        ondemand::object o;
        if ((err = doc.get_object().get(o)))
            goto failed;
        for (auto field : o) {
            std::string_view key;
            if ((err = field.unescaped_key().get(key)))
                goto failed;
            if (key == "user_id") {
                std::string_view uid;
                if ((err = field.value().get_string().get(uid)))
                    goto failed;
                f->user_id = uid.data();
                f->user_id_len = uid.size();
            } else if (key == "ts") {
                if ((err = field.value().get_int64().get(f->ts)))
                    goto failed;
            } else if ((err = walk(field.value(), 2, p->max_depth))) {
                goto failed;
            }
        }
    } else {
        ondemand::value v;
        if ((err = doc.get_value().get(v)) || (err = walk(v, 1, p->max_depth)))
            goto failed;
    }
    if (trailing(doc)) {
        err = TRAILING_CONTENT;
        goto failed;
    }
    return 0;
failed:
    *err_at = location(doc, buf);
    return err;
}

extern "C" int sj_dom_many(sj_parser_t *p, const char *buf, size_t len, int extract, sj_doc_cb cb, void *ud,
                           size_t *n_docs)
{
    dom::document_stream stream;
    *n_docs = 0;
    auto err = p->dom.parse_many(reinterpret_cast<const uint8_t *>(buf), len, dom::DEFAULT_BATCH_SIZE).get(stream);
    if (err)
        return err;
    for (auto it = stream.begin(); it != stream.end(); ++it) {
        dom::element doc;
        if ((err = (*it).get(doc)))
            return err;
        sj_fields_t f = {nullptr, 0, 0};
        if (extract) {
            std::string_view uid;
            if ((err = doc.at_pointer("/user_id").get(uid)) || (err = doc.at_pointer("/ts").get(f.ts)))
                return err;
            f.user_id = uid.data();
            f.user_id_len = uid.size();
        }
        std::string_view raw = it.source();
        if (cb)
            cb(ud, it.current_index(), raw.data(), raw.size(), extract ? &f : nullptr);
        ++*n_docs;
    }
    return 0;
}

extern "C" int sj_od_array_spans(sj_parser_t *p, const char *buf, size_t len, sj_span_cb cb, void *ud, long *err_at)
{
    ondemand::document doc;
    ondemand::array arr;
    *err_at = -1;
    auto err = p->od.iterate(buf, len, len + SJ_PADDING).get(doc);
    if (err)
        return err;
    if ((err = doc.get_array().get(arr)))
        goto failed;
    for (auto el : arr) {
        ondemand::value v;
        ondemand::json_type t;
        const char *start, *end;
        std::string_view token;
        if ((err = el.get(v)) || (err = v.type().get(t)) || (err = v.current_location().get(start)))
            goto failed;
        if (t == ondemand::json_type::object || t == ondemand::json_type::array) {
            if ((err = walk(v, 2, p->max_depth)))
                goto failed;
            // After the walk the iterator stands on the ',' or ']' that follows the element.
            if (doc.current_location().get(end))
                end = buf + len;
        } else {
            // A scalar is one token; raw_json_token() gives it (with any blanks after it).
            token = v.raw_json_token();
            if ((err = walk(v, 2, p->max_depth)))
                goto failed;
            end = token.data() + token.size();
        }
        while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
            end--;
        cb(ud, size_t(start - buf), size_t(end - buf));
    }
    if (trailing(doc)) {
        err = TRAILING_CONTENT;
        goto failed;
    }
    return 0;
failed:
    *err_at = location(doc, buf);
    return err;
}
