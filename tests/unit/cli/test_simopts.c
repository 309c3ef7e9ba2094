/* Unit tests for cli/simopts: the table's invariants, a topology with every simulator key
 * set going to `wellpath sim` flags and back to the same config, range errors that name
 * the flag, and a usage text that shows every row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/simopts.h"

static void test_cli_simopts_table_invariants(void **state)
{
    (void)state;
    size_t n = wp_cli_simopt_count();
    assert_true(n > 0 && n <= WP_CLI_SIMOPT_MAX);
    assert_null(wp_cli_simopt_at(n));
    for (size_t i = 0; i < n; i++) {
        const wp_cli_simopt_t *o = wp_cli_simopt_at(i);
        assert_ptr_equal(wp_cli_simopt_find(o->flag), o); /* flags are unique */
        assert_true(o->help != NULL && o->help[0] != '\0');
        assert_true(o->off + o->size <= sizeof(wp_sim_config_t));
        if (o->kind == WP_CLI_SIMOPT_CUSTOM)
            assert_non_null(o->parse);
        assert_true((o->metavar == NULL) == (o->kind == WP_CLI_SIMOPT_OFF));
        if (o->topo_key == NULL)
            continue;
        assert_true(o->topo_off + o->topo_size <= sizeof(wp_topology_t));
        if (o->kind != WP_CLI_SIMOPT_STR)
            assert_int_equal(o->topo_size, o->size);
        if (o->kind == WP_CLI_SIMOPT_CUSTOM)
            assert_non_null(o->pass);
    }
    assert_null(wp_cli_simopt_find("no-such-flag"));
}

static const char every_key[] = "model: qwen3-32b\n"
                                "gpu: h200\n"
                                "vllm:\n"
                                "  replicas: 3\n"
                                "  tensorParallel: 2\n"
                                "  prefixCaching: false\n"
                                "  maxNumSeqs: 64\n"
                                "  maxNumBatchedTokens: 4096\n"
                                "  blockSize: 32\n"
                                "  maxModelLen: 8192\n"
                                "  gpuMemoryUtilization: 0.8\n"
                                "simulation:\n"
                                "  basePort: 9000\n"
                                "  timeScale: 0.25\n"
                                "  seed: 12345678901\n"
                                "  prefillMfu: 0.4\n"
                                "  decodeMbu: 0.6\n"
                                "  stepOverheadMs: 0\n"
                                "  adminToken: s3cret\n"
                                "  faults: [\"500:0.5\", \"latency,ms=20\"]\n";

/* Every topology key becomes the flag of its row, with its value. */
static const char *const every_flag[] = {
    "--model=qwen3-32b",
    "--gpu=h200",
    "--tp=2",
    "--replicas=3",
    "--port=9000",
    "--time-scale=0.25",
    "--seed=12345678901",
    "--max-num-seqs=64",
    "--max-num-batched-tokens=4096",
    "--max-model-len=8192",
    "--block-size=32",
    "--gpu-memory-utilization=0.80000000000000004",
    "--prefill-mfu=0.40000000000000002",
    "--decode-mbu=0.59999999999999998",
    "--step-overhead-ms=0",
    "--no-prefix-caching",
    "--fault=500:0.5",
    "--fault=latency:1,ms=20",
    "--admin-token=s3cret",
};

/* argv (after the program name) through the sim parser into a default config. */
static void parse_back(char **v, int n, wp_sim_config_t *sc)
{
    char *argv[64] = {"sim"};
    assert_true(n < 63);
    memcpy(argv + 1, v, (size_t)n * sizeof(char *));
    wp_cli_args_t a;
    wp_cli_opt_t opts[WP_CLI_SIMOPT_MAX];
    wp_err_t err;
    const char *val;
    int c;
    wp_sim_config_default(sc);
    wp_cli_args_init(&a, n + 1, argv);
    assert_int_equal(wp_cli_simopt_add_options(&a, opts, 100, &err), WP_OK);
    while ((c = wp_cli_args_next(&a, &val, &err)) > 0)
        if (wp_cli_simopt_apply(wp_cli_simopt_at((size_t)(c - 100)), sc, NULL, val, &err) != WP_OK)
            fail_msg("%s", err.msg);
    if (c < 0)
        fail_msg("%s", err.msg);
}

static void test_cli_simopts_topology_to_flags_and_back(void **state)
{
    (void)state;
    unsetenv("WELLPATH_ADMIN_TOKEN");
    wp_topology_t t;
    wp_err_t err;
    assert_int_equal(wp_topology_parse(every_key, strlen(every_key), "t.yaml", &t, &err), WP_OK);
    wp_sim_config_t from_file;
    wp_sim_config_default(&from_file);
    assert_int_equal(wp_cli_simopt_from_topology(&t, &from_file, &err), WP_OK);
    wp_topology_free(&t);
    assert_string_equal(from_file.model, "qwen3-32b");
    assert_int_equal(from_file.port, 9000);
    assert_false(from_file.prefix_caching);
    assert_int_equal(from_file.faults.n, 2);

    wp_cli_argv_t av;
    wp_cli_argv_init(&av);
    assert_int_equal(wp_cli_simopt_to_argv(&from_file, &av, &err), WP_OK);
    size_t want = sizeof(every_flag) / sizeof(every_flag[0]);
    for (int i = 0; i < av.n; i++)
        if (i >= (int)want || strcmp(av.v[i], every_flag[i]) != 0)
            fail_msg("argument %d: got %s, want %s", i, av.v[i],
                     i < (int)want ? every_flag[i] : "(none)");
    assert_int_equal(av.n, (int)want);

    wp_sim_config_t from_flags;
    parse_back(av.v, av.n, &from_flags);
    for (size_t i = 0; i < wp_cli_simopt_count(); i++) {
        const wp_cli_simopt_t *o = wp_cli_simopt_at(i);
        if (memcmp((char *)&from_file + o->off, (char *)&from_flags + o->off, o->size) != 0)
            fail_msg("--%s: the flags give another value than the file", o->flag);
    }
    wp_cli_argv_free(&av);

    /* The environment's token wins in the child: the file's is not passed. */
    setenv("WELLPATH_ADMIN_TOKEN", "from-env", 1);
    assert_int_equal(wp_cli_simopt_to_argv(&from_file, &av, &err), WP_OK);
    for (int i = 0; i < av.n; i++)
        assert_null(strstr(av.v[i], "admin-token"));
    wp_cli_argv_free(&av);
    unsetenv("WELLPATH_ADMIN_TOKEN");
}

/* Unset engine settings (0, or < 0 for the step overhead) and prefix caching on are left
 * off the child's command line: the child keeps its own defaults. */
static void test_cli_simopts_unset_values_are_not_passed(void **state)
{
    (void)state;
    unsetenv("WELLPATH_ADMIN_TOKEN");
    wp_topology_t t;
    wp_err_t err;
    wp_topology_defaults(&t);
    wp_sim_config_t sc;
    wp_sim_config_default(&sc);
    assert_int_equal(wp_cli_simopt_from_topology(&t, &sc, &err), WP_OK);
    wp_cli_argv_t av;
    wp_cli_argv_init(&av);
    assert_int_equal(wp_cli_simopt_to_argv(&sc, &av, &err), WP_OK);
    char line[1024] = "";
    for (int i = 0; i < av.n; i++)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s", i ? " " : "", av.v[i]);
    assert_string_equal(line, "--model=qwen3-8b --gpu=h100 --tp=1 --replicas=4 --port=8100 "
                              "--time-scale=1 --seed=1");
    wp_cli_argv_free(&av);
}

static void expect_error(const char *flag, const char *value, const char *want)
{
    wp_sim_config_t sc;
    wp_err_t err = {{0}};
    wp_sim_config_default(&sc);
    assert_int_equal(wp_cli_simopt_apply(wp_cli_simopt_find(flag), &sc, NULL, value, &err),
                     WP_EINVAL);
    if (strstr(err.msg, want) == NULL)
        fail_msg("--%s %s: \"%s\" lacks \"%s\"", flag, value, err.msg, want);
}

static void test_cli_simopts_errors_name_the_flag(void **state)
{
    (void)state;
    expect_error("tp", "9", "--tp: expected an integer in 1..8, got '9'");
    expect_error("port", "-1", "--port: expected an integer in 0..65535, got '-1'");
    expect_error("decode-mbu", "0", "--decode-mbu: expected a number in (0, 1], got '0'");
    expect_error("step-overhead-ms", "x", "--step-overhead-ms: expected a number in [0, 1000]");
    expect_error("seed", "-3", "--seed: expected an integer in 0..2^63-1, got '-3'");
    expect_error("seed", "9223372036854775808", "--seed: expected an integer in 0..2^63-1");
    expect_error("admin-token", "", "--admin-token: expected a token of 1..127 bytes");
    expect_error("gpu", "a-gpu-name-longer-than-15", "--gpu: expected a name of 1..15 bytes");
    expect_error("fault", "melt", "--fault: ");
    expect_error("fault-replicas", "0,64", "--fault-replicas: expected replica indices 0..63");
    wp_sim_config_t sc;
    wp_err_t err;
    wp_sim_config_default(&sc);
    assert_int_equal(wp_cli_simopt_apply(wp_cli_simopt_find("admin-token"), &sc,
                                         "WELLPATH_ADMIN_TOKEN", "", &err),
                     WP_EINVAL);
    assert_non_null(strstr(err.msg, "WELLPATH_ADMIN_TOKEN: expected a token"));
    assert_int_equal(
        wp_cli_simopt_apply(wp_cli_simopt_find("fault-replicas"), &sc, NULL, "0,2", &err), WP_OK);
    assert_int_equal(sc.fault_replicas, 5);
}

/* A topology string that does not fit the simulator's field is an error, not cut. */
static void test_cli_simopts_long_topology_string(void **state)
{
    (void)state;
    wp_topology_t t;
    wp_err_t err;
    wp_topology_defaults(&t);
    snprintf(t.gpu, sizeof(t.gpu), "%s", "a-gpu-name-longer-than-15");
    wp_sim_config_t sc;
    wp_sim_config_default(&sc);
    assert_int_equal(wp_cli_simopt_from_topology(&t, &sc, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "gpu: \"a-gpu-name-longer-than-15\" is longer than 15"));
}

static void test_cli_simopts_usage_shows_every_row(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    wp_cli_simopt_usage(f);
    fclose(f);
    for (size_t i = 0; i < wp_cli_simopt_count(); i++) {
        const wp_cli_simopt_t *o = wp_cli_simopt_at(i);
        char want[128];
        snprintf(want, sizeof(want), "      --%s%s%s ", o->flag, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        if (strstr(text, want) == NULL)
            fail_msg("usage lacks \"%s\"", want);
        snprintf(want, sizeof(want), "(file: %s)\n", o->topo_key ? o->topo_key : "");
        if (o->topo_key != NULL && strstr(text, want) == NULL)
            fail_msg("usage lacks \"%s\"", want);
    }
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        assert_true(n <= 100);
        line += n + (line[n] ? 1 : 0);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_simopts_table_invariants),
        cmocka_unit_test(test_cli_simopts_topology_to_flags_and_back),
        cmocka_unit_test(test_cli_simopts_unset_values_are_not_passed),
        cmocka_unit_test(test_cli_simopts_errors_name_the_flag),
        cmocka_unit_test(test_cli_simopts_long_topology_string),
        cmocka_unit_test(test_cli_simopts_usage_shows_every_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
