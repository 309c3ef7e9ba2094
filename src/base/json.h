/*
 * base/json: a validating JSON reader (RFC 8259) that indexes a document where it lies.
 *
 * wp_json_parse checks the whole text and writes one token per value, in document order:
 * its type, where its bytes are (a string's without the quotes, still escaped), and the
 * index just past its subtree, so a reader steps over a member's value in O(1). Nothing
 * is copied and nothing is decoded until asked: a string without escapes is read in place
 * (wp_json_str gives a view into the text); one with escapes is decoded into the caller's
 * buffer. Strings are scanned eight bytes at a time. For request bodies on the gateway's
 * path, where the prompt dominates: a 400 KB prompt is checked, not copied.
 *
 * Grammar: whitespace is space, tab, CR and LF; numbers are -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?; strings hold no control character below 0x20 and only the escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX; one value, then only whitespace. Byte sequences are not
 * checked as UTF-8 (as cJSON does not); a lone surrogate escape decodes to U+FFFD. Nesting
 * deeper than WP_JSON_MAX_DEPTH is refused.
 *
 * Objects: a member is a key token (a string) followed by its value's tokens. A key given
 * twice names its last value (as Python's json, and so vLLM, reads it).
 *
 * Ownership: wp_json_t owns its token array; it borrows the text, which must outlive it and
 * stay unchanged. Pure: no I/O, no globals.
 */
#ifndef WP_BASE_JSON_H
#define WP_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define WP_JSON_MAX_DEPTH 256

typedef enum {
    WP_JSON_NULL,
    WP_JSON_FALSE,
    WP_JSON_TRUE,
    WP_JSON_NUMBER,
    WP_JSON_STRING,
    WP_JSON_ARRAY,
    WP_JSON_OBJECT,
} wp_json_type_t;

typedef struct wp_json_tok_s {
    uint8_t type;   /* wp_json_type_t */
    bool escaped;   /* a string with at least one backslash escape */
    uint32_t start; /* offset of the value's first byte (a string's: after the quote) */
    uint32_t len;   /* its bytes (a string's: up to the closing quote) */
    uint32_t end;   /* index of the first token after this value's subtree */
    uint32_t count; /* an array's elements, an object's members; 0 otherwise */
} wp_json_tok_t;

typedef struct wp_json_s {
    const char *src; /* borrowed */
    size_t src_len;
    wp_json_tok_t *toks; /* owned; toks[0] is the document's value */
    size_t n, cap;
} wp_json_t;

/* Checks and indexes text[0..len) (len < 4 GiB). On error returns WP_EINVAL with *at set
 * to the offset where the text stops being JSON and err's message saying what was wrong
 * there; WP_ENOMEM when the tokens could not be allocated. j is usable (empty) either
 * way; free it with wp_json_free. */
wp_status_t wp_json_parse(wp_json_t *j, const char *text, size_t len, size_t *at, wp_err_t *err);
void wp_json_free(wp_json_t *j);

static inline wp_json_type_t wp_json_type(const wp_json_t *j, int i)
{
    return (wp_json_type_t)j->toks[i].type;
}

/* The value of member `key` of object obj, or -1 when it has none (or obj is not an
 * object). Keys are compared decoded. */
int wp_json_get(const wp_json_t *j, int obj, const char *key);
/* The first element (array) or first key (object) of container i, -1 when empty. */
int wp_json_first(const wp_json_t *j, int i);
/* The value after value i within the same container (for an object's members: from a key
 * to its value, from a value to the next key); -1 past the container's end. */
int wp_json_next(const wp_json_t *j, int container, int i);
/* A number token's value (as strtod reads it). */
double wp_json_number(const wp_json_t *j, int i);
/* A string token's text: in place when it has no escapes (*out points into the document,
 * not NUL-terminated), otherwise decoded and appended to scratch (*out points there, into
 * memory a later append may move). WP_ELIMIT when scratch cannot grow. */
wp_status_t wp_json_str(const wp_json_t *j, int i, wp_buf_t *scratch, const char **out,
                        size_t *len);
/* Whether string token i, decoded, equals s. */
bool wp_json_str_eq(const wp_json_t *j, int i, const char *s);

#endif
