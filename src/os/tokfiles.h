/*
 * os/tokfiles: a model's tokenizer (tok/model.h) from files, for shells. PATH is a
 * directory holding tokenizer.json (and, optionally, tokenizer_config.json), or a
 * tokenizer.json file (its sibling tokenizer_config.json is read when present), as
 * vLLM's --tokenizer takes a local path. Errors name the file and what is wrong.
 */
#ifndef WP_OS_TOKFILES_H
#define WP_OS_TOKFILES_H

#include "base/err.h"
#include "tok/model.h"

/* Reads and loads the tokenizer at path into *out (NULL on failure; free with
 * wp_tokmodel_free). */
wp_status_t wp_os_tokmodel_load(const char *path, wp_tokmodel_t **out, wp_err_t *err);

#endif
