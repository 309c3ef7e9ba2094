/* Unit tests for config/addr: the one host:port and URL parser, as tables of inputs and
 * what each must give (host, port, or an error containing a phrase). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/addr.h"

typedef struct hp_case_s {
    const char *in;
    wp_addr_port0_t port0;
    const char *host; /* NULL: an error is expected */
    int port;
    const char *why; /* part of the error message */
} hp_case_t;

static const hp_case_t hostports[] = {
    /* IPv4 */
    {"127.0.0.1:8000", WP_ADDR_PORT0_NO, "127.0.0.1", 8000, NULL},
    {"0.0.0.0:65535", WP_ADDR_PORT0_NO, "0.0.0.0", 65535, NULL},
    {"255.255.255.255:1", WP_ADDR_PORT0_NO, "255.255.255.255", 1, NULL},
    {"256.1.1.1:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv4 address"},
    {"1.2.3:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv4 address"},
    {"1.2.3.4.5:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv4 address"},
    {"01.2.3.4:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv4 address"},
    {"8000:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv4 address"},
    /* [IPv6] */
    {"[::1]:8000", WP_ADDR_PORT0_NO, "::1", 8000, NULL},
    {"[::]:0", WP_ADDR_PORT0_OK, "::", 0, NULL},
    {"[2001:db8::a:1]:443", WP_ADDR_PORT0_NO, "2001:db8::a:1", 443, NULL},
    {"[::ffff:127.0.0.1]:80", WP_ADDR_PORT0_NO, "::ffff:127.0.0.1", 80, NULL},
    {"::1:8000", WP_ADDR_PORT0_OK, NULL, 0, "needs brackets"},
    {"fe80::1:80", WP_ADDR_PORT0_OK, NULL, 0, "needs brackets"},
    {"[::1:8000", WP_ADDR_PORT0_OK, NULL, 0, "unclosed '['"},
    {"[::1]", WP_ADDR_PORT0_OK, NULL, 0, "expected host:port"},
    {"[::1]8000", WP_ADDR_PORT0_OK, NULL, 0, "expected host:port"},
    {"[]:80", WP_ADDR_PORT0_OK, NULL, 0, "missing host"},
    {"[not-v6]:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv6 address"},
    {"[fe80::1%eth0]:80", WP_ADDR_PORT0_OK, NULL, 0, "bad IPv6 address"},
    /* host names */
    {"localhost:8000", WP_ADDR_PORT0_NO, "localhost", 8000, NULL},
    {"vllm-0.vllm.svc.cluster.local:8000", WP_ADDR_PORT0_NO, "vllm-0.vllm.svc.cluster.local", 8000,
     NULL},
    {"my_service:80", WP_ADDR_PORT0_NO, "my_service", 80, NULL},
    {"h1:80", WP_ADDR_PORT0_NO, "h1", 80, NULL},
    {"-bad:80", WP_ADDR_PORT0_OK, NULL, 0, "bad host name"},
    {"bad-:80", WP_ADDR_PORT0_OK, NULL, 0, "bad host name"},
    {"a..b:80", WP_ADDR_PORT0_OK, NULL, 0, "bad host name"},
    {"a.b.:80", WP_ADDR_PORT0_OK, NULL, 0, "bad host name"},
    {"a b:80", WP_ADDR_PORT0_OK, NULL, 0, "bad character ' '"},
    {"user@h:80", WP_ADDR_PORT0_OK, NULL, 0, "bad character '@'"},
    {":80", WP_ADDR_PORT0_OK, NULL, 0, "missing host"},
    {"localhost", WP_ADDR_PORT0_OK, NULL, 0, "expected host:port"},
    {"", WP_ADDR_PORT0_OK, NULL, 0, "missing host"},
    /* ports */
    {"h:0", WP_ADDR_PORT0_OK, "h", 0, NULL},
    {"h:0", WP_ADDR_PORT0_NO, NULL, 0, "expected 1..65535"},
    {"h:00080", WP_ADDR_PORT0_NO, "h", 80, NULL},
    {"h:65536", WP_ADDR_PORT0_OK, NULL, 0, "bad port \"65536\""},
    {"h:", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h:+80", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h:-1", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h: 80", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h:80x", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h:123456", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
    {"h:80/x", WP_ADDR_PORT0_OK, NULL, 0, "bad port"},
};

static void test_addr_hostport_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hostports) / sizeof(hostports[0]); i++) {
        const hp_case_t *c = &hostports[i];
        char host[WP_ADDR_HOST_MAX] = "unchanged";
        uint16_t port = 7;
        wp_err_t err = {{0}};
        wp_status_t st = wp_addr_parse_hostport(c->in, c->port0, host, &port, &err);
        if (c->host != NULL) {
            if (st != WP_OK || strcmp(host, c->host) != 0 || port != c->port)
                fail_msg("\"%s\": want %s port %d, got status %d host %s port %u (%s)", c->in,
                         c->host, c->port, st, host, port, err.msg);
        } else if (st != WP_EINVAL || strstr(err.msg, c->why) == NULL ||
                   strcmp(host, "unchanged") != 0 || port != 7) {
            fail_msg("\"%s\": want an error with \"%s\", got status %d \"%s\" (outputs %s %u)",
                     c->in, c->why, st, err.msg, host, port);
        }
    }
}

static void test_addr_hostport_long_host(void **state)
{
    (void)state;
    char in[600], host[WP_ADDR_HOST_MAX];
    uint16_t port;
    wp_err_t err;
    memset(in, 'a', 300);
    snprintf(in + 300, sizeof(in) - 300, ":80");
    assert_int_equal(wp_addr_parse_hostport(in, WP_ADDR_PORT0_NO, host, &port, &err), WP_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
    /* 64-byte label */
    memset(in, 'b', 64);
    snprintf(in + 64, sizeof(in) - 64, ":80");
    assert_int_equal(wp_addr_parse_hostport(in, WP_ADDR_PORT0_NO, host, &port, &err), WP_EINVAL);
    in[63] = ':';
    in[64] = '8';
    in[65] = '\0';
    assert_int_equal(wp_addr_parse_hostport(in, WP_ADDR_PORT0_NO, host, &port, &err), WP_OK);
}

typedef struct url_case_s {
    const char *in;
    const char *host; /* NULL: an error is expected */
    int port;
    const char *path;
} url_case_t;

static const url_case_t urls[] = {
    {"http://a.b:8080/x/y//", "a.b", 8080, "/x/y"},
    {"http://a.b", "a.b", 80, ""},
    {"http://a.b/", "a.b", 80, ""},
    {"http://[::1]:8000/v1", "::1", 8000, "/v1"},
    {"http://10.0.0.1:1", "10.0.0.1", 1, ""},
    {"https://a.b", NULL, 0, NULL},
    {"http://a.b:0", NULL, 0, NULL},
    {"http://[::1", NULL, 0, NULL},
    {"http://[::1]x", NULL, 0, NULL},
    {"http://::1:80/", NULL, 0, NULL},
    {"http://u@a.b/", NULL, 0, NULL},
    {"http://a.b/x?q=1", NULL, 0, NULL},
    {"http://a b/", NULL, 0, NULL},
    {"http://300.1.1.1/", NULL, 0, NULL},
    {"http://:80/", NULL, 0, NULL},
};

static void test_addr_url_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        const url_case_t *c = &urls[i];
        char host[WP_ADDR_HOST_MAX] = "unchanged", path[WP_ADDR_PATH_MAX] = "unchanged";
        uint16_t port = 7;
        wp_err_t err = {{0}};
        wp_status_t st = wp_addr_parse_url(c->in, host, &port, path, &err);
        if (c->host != NULL) {
            if (st != WP_OK || strcmp(host, c->host) != 0 || port != c->port ||
                strcmp(path, c->path) != 0)
                fail_msg("\"%s\": got status %d host %s port %u path %s (%s)", c->in, st, host,
                         port, path, err.msg);
        } else if (st != WP_EINVAL || strcmp(host, "unchanged") != 0 || port != 7) {
            fail_msg("\"%s\": want an error, got status %d host %s", c->in, st, host);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_hostport_table),
        cmocka_unit_test(test_addr_hostport_long_host),
        cmocka_unit_test(test_addr_url_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
