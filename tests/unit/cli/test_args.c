/* Unit tests for cli/args: both forms of every option, flags, the short letter, "--",
 * and one-line errors that name the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"

enum { O_FILE = 1, O_PORT, O_JSON, O_HELP };

static const wp_cli_opt_t opts[] = {
    {"file", 'f', true, O_FILE},
    {"port", 0, true, O_PORT},
    {"log-json", 0, false, O_JSON},
    {"help", 'h', false, O_HELP},
};

/* Parses argv (NULL-terminated, after the command name) into "code=value;..." or
 * "error: message". */
static void parse(const char *const *in, char *out, size_t cap)
{
    char *argv[16] = {"cmd"};
    int argc = 1;
    while (in[argc - 1] != NULL)
        argv[argc] = (char *)in[argc - 1], argc++;
    wp_cli_args_t a;
    wp_err_t err;
    wp_cli_args_init(&a, argc, argv);
    assert_int_equal(wp_cli_args_add(&a, opts, sizeof(opts) / sizeof(opts[0]), &err), WP_OK);
    out[0] = '\0';
    const char *v;
    int c;
    size_t k = 0;
    while ((c = wp_cli_args_next(&a, &v, &err)) > 0)
        k += (size_t)snprintf(out + k, cap - k, "%d=%s;", c, v ? v : "(none)");
    if (c < 0)
        snprintf(out, cap, "error: %s", err.msg);
}

#define EXPECT(want, ...)                                                                          \
    do {                                                                                           \
        const char *in_[] = {__VA_ARGS__, NULL};                                                   \
        char got_[1024];                                                                           \
        parse(in_, got_, sizeof(got_));                                                            \
        assert_string_equal(got_, want);                                                           \
    } while (0)

static void test_cli_args_both_forms(void **state)
{
    (void)state;
    EXPECT("1=a.yaml;2=0;", "--file", "a.yaml", "--port", "0");
    EXPECT("1=a.yaml;2=0;", "--file=a.yaml", "--port=0");
    EXPECT("1=a.yaml;1=b.yaml;", "-f", "a.yaml", "-fb.yaml");
    EXPECT("2=;", "--port=");       /* an empty value is the command's to judge */
    EXPECT("1=x=y;", "--file=x=y"); /* only the first '=' splits */
    EXPECT("3=(none);4=(none);", "--log-json", "-h");
    EXPECT("2=--log-json;", "--port", "--log-json"); /* a value may start with '-' */
}

static void test_cli_args_errors_name_the_option(void **state)
{
    (void)state;
    EXPECT("error: unknown option '--nope'", "--nope");
    EXPECT("error: unknown option '--nope'", "--nope=1");
    EXPECT("error: unknown option '--fil'", "--fil=a"); /* no abbreviations */
    EXPECT("error: unknown option '-x'", "-x");
    EXPECT("error: unknown option '-hv'", "-hv"); /* no clusters */
    EXPECT("error: option '--port' needs a value", "--port");
    EXPECT("error: option '-f' needs a value", "-f");
    EXPECT("error: option '--log-json' takes no value", "--log-json=1");
    EXPECT("error: unexpected argument 'stray'", "--port", "1", "stray");
    EXPECT("error: unexpected argument '-'", "-");
}

static void test_cli_args_double_dash_and_rewind(void **state)
{
    (void)state;
    EXPECT("2=1;", "--port", "1", "--");
    EXPECT("error: unexpected argument '--port'", "--", "--port");
    char *argv[] = {"cmd", "--port=3", "-h"};
    wp_cli_args_t a;
    wp_err_t err;
    const char *v;
    wp_cli_args_init(&a, 3, argv);
    wp_cli_args_add(&a, opts, 4, &err);
    assert_int_equal(wp_cli_args_next(&a, &v, &err), O_PORT);
    assert_int_equal(wp_cli_args_next(&a, &v, &err), O_HELP);
    assert_int_equal(wp_cli_args_next(&a, &v, &err), 0);
    wp_cli_args_rewind(&a);
    assert_int_equal(wp_cli_args_next(&a, &v, &err), O_PORT);
    assert_string_equal(v, "3");
}

static void test_cli_args_capacity(void **state)
{
    (void)state;
    wp_cli_args_t a;
    wp_err_t err;
    static wp_cli_opt_t many[WP_CLI_ARGS_MAX + 1];
    wp_cli_args_init(&a, 0, NULL);
    assert_int_equal(wp_cli_args_add(&a, many, WP_CLI_ARGS_MAX, &err), WP_OK);
    assert_int_equal(wp_cli_args_add(&a, many, 1, &err), WP_ELIMIT);
}

static void test_cli_argv_limits(void **state)
{
    (void)state;
    wp_cli_argv_t av;
    wp_err_t err;
    wp_cli_argv_init(&av);
    for (int i = 0; i < WP_CLI_ARGV_MAX; i++)
        assert_int_equal(wp_cli_argv_push(&av, &err, "--port=%d", i), WP_OK);
    assert_string_equal(av.v[7], "--port=7");
    assert_null(av.v[WP_CLI_ARGV_MAX]);
    assert_int_equal(wp_cli_argv_push(&av, &err, "one-more"), WP_ELIMIT);
    wp_cli_argv_free(&av);
    assert_int_equal(av.n, 0);
    static char big[WP_CLI_ARGV_ARG_MAX + 1];
    memset(big, 'x', WP_CLI_ARGV_ARG_MAX);
    assert_int_equal(wp_cli_argv_push(&av, &err, "%s", big), WP_ELIMIT);
    big[WP_CLI_ARGV_ARG_MAX - 1] = '\0';
    assert_int_equal(wp_cli_argv_push(&av, &err, "%s", big), WP_OK);
    wp_cli_argv_free(&av);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_args_both_forms),
        cmocka_unit_test(test_cli_args_errors_name_the_option),
        cmocka_unit_test(test_cli_args_double_dash_and_rewind),
        cmocka_unit_test(test_cli_args_capacity),
        cmocka_unit_test(test_cli_argv_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
