/*
 * config/schema (internal to src/config): a table-driven walker over a libyaml document.
 *
 * A section of the file is described by an array of wp__cfg_field_t: its key, the kind of
 * value, where the value goes (an offset from the section's struct) and its limits.
 * wp__cfg_map walks one YAML mapping against such a table: it rejects unknown keys
 * (listing the allowed ones), duplicates and wrong types, checks ranges and choices,
 * writes the values, and reports missing required keys. Lists and cross-field rules are
 * WP__CFG_CUSTOM fields whose function gets the section struct itself.
 *
 * wp__cfg_load parses a whole buffer as exactly one YAML document and hands its root to a
 * callback, so every file format (topology, workload) loads and reports YAML errors the
 * same way.
 *
 * Errors are "file:line:col: key.path: message" in the caller's wp_err_t. Nothing here
 * allocates except libyaml's document inside wp__cfg_load, which it frees; otherwise the
 * document belongs to the caller.
 */
#ifndef WP_CONFIG_SCHEMA_H
#define WP_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "base/err.h"

#define WP__CFG_PATH_MAX 160

typedef struct wp__cfg_ctx_s {
    const char *filename;
    yaml_document_t *doc;
    wp_err_t *err;
} wp__cfg_ctx_t;

typedef enum {
    WP__CFG_STR,    /* char[size]; non-empty; in choices (or choice_at) when given */
    WP__CFG_ENUM,   /* int-sized enum: index of the value in choices */
    WP__CFG_INT,    /* int (size 4) or int64_t (size 8), plain scalar, in [min, max] */
    WP__CFG_DOUBLE, /* double, plain scalar, finite, in [min, max] (min exclusive?) */
    WP__CFG_BOOL,   /* bool: true|True|TRUE|false|False|FALSE */
    WP__CFG_MAP,    /* nested section: sub table applied at base + off */
    WP__CFG_CUSTOM, /* custom(ctx, node, base, path) */
} wp__cfg_kind_t;

typedef struct wp__cfg_field_s wp__cfg_field_t;
typedef wp_status_t (*wp__cfg_custom_fn)(wp__cfg_ctx_t *c, yaml_node_t *n, void *base,
                                         const char *path);

struct wp__cfg_field_s {
    const char *key;
    wp__cfg_kind_t kind;
    size_t off;
    size_t size;
    double min, max;
    bool min_exclusive;
    bool required;
    const char *const *choices; /* NULL-terminated (STR, ENUM) */
    /* STR: the i-th allowed value, NULL past the last, for a list another module owns
     * (the scheduler's policy names); instead of choices. */
    const char *(*choice_at)(size_t i);
    const int64_t *int_choices; /* 0-terminated (INT) */
    const wp__cfg_field_t *sub; /* MAP */
    size_t nsub;
    wp__cfg_custom_fn custom;
    size_t flag_off;     /* offset + 1 of a bool in base set when the key is present; 0 none */
    bool zero_unset;     /* INT/DOUBLE: a stored 0, STR: "", means "not set" */
    bool negative_unset; /* DOUBLE: a stored value < 0 means "not set" (0 is a value) */
};

/* Formats "file:line:col: path: <fmt>" into c->err for node n; returns status. */
wp_status_t wp__cfg_fail(wp__cfg_ctx_t *c, const yaml_node_t *n, const char *path,
                         wp_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Walks mapping node n against fields (at most 64), writing into base. */
wp_status_t wp__cfg_map(wp__cfg_ctx_t *c, yaml_node_t *n, const wp__cfg_field_t *fields,
                        size_t nfields, void *base, const char *path);

/* Checks values already in base against the table (ranges, choices, strings
 * NUL-terminated and non-empty); CUSTOM fields are the caller's to check. For validate(). */
wp_status_t wp__cfg_check(const wp__cfg_field_t *fields, size_t nfields, const void *base,
                          const char *path, wp_err_t *err);

/* The items of sequence node n (error naming path unless n is a sequence). */
wp_status_t wp__cfg_seq(wp__cfg_ctx_t *c, yaml_node_t *n, const char *path,
                        yaml_node_item_t **items, size_t *count);

/* A scalar's text as a C string (error when n is not a scalar or holds a NUL byte). */
wp_status_t wp__cfg_scalar(wp__cfg_ctx_t *c, yaml_node_t *n, const char *path, const char **text);

/* Called by wp__cfg_load with the document's root node (NULL when the input holds no
 * node: empty, or only comments). */
typedef wp_status_t (*wp__cfg_root_fn)(wp__cfg_ctx_t *c, yaml_node_t *root, void *arg);

/* Parses data[0..len) as one YAML document and calls fn on its root. libyaml's errors are
 * "file:line:col: invalid YAML: ..."; a second document is an error. */
wp_status_t wp__cfg_load(const char *data, size_t len, const char *file, wp__cfg_root_fn fn,
                         void *arg, wp_err_t *err);

/* The value of `key` in mapping n (its key node in *key_node when not NULL), or NULL when
 * n is not a mapping or has no such key. */
yaml_node_t *wp__cfg_lookup(wp__cfg_ctx_t *c, yaml_node_t *n, const char *key,
                            yaml_node_t **key_node);

#endif
