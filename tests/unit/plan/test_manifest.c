/* Unit tests for plan/manifest: the three paths of the production guide rendered to
 * Kubernetes objects (their kinds and counts, GPUs per pod, replicas, the vLLM flags), every
 * flag in every command found in vllm_flags.c and docs/vllm-flags.md, every file parsed back
 * by libyaml with the embedded texts coming out byte for byte, the topology endpoints
 * accepted by the gateway's own parser, and bad input refused with a clear message.
 *
 * With WELLPATH_MANIFEST_DIR set, each scenario's files are also written to
 * $WELLPATH_MANIFEST_DIR/<scenario>/ (tests/integration/plan_manifests.test.mjs validates
 * them against the real Kubernetes, Prometheus Operator, KEDA, Gateway API and CRD
 * schemas). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <yaml.h>

#include "config/topology.h"
#include "plan/manifest.h"

/* ---- fixtures ---- */

/* The repository's root, from this file's path (CMake compiles it by its full path). */
static const char *repo_path(const char *rel, char *buf, size_t cap)
{
    const char *self = __FILE__;
    const char *cut = strstr(self, "tests/unit/plan/test_manifest.c");
    size_t n = cut ? (size_t)(cut - self) : 0;
    snprintf(buf, cap, "%.*s%s", (int)n, self, rel);
    return buf;
}

static char *read_repo_file(const char *rel)
{
    char path[1024];
    FILE *f = fopen(repo_path(rel, path, sizeof(path)), "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

typedef struct scenario_s {
    const char *name;
    wp_plan_deploy_t d;
    char *rules, *guide, *dashboard;
    wp_buf_t topology;
    wp_plan_file_t files[WP_PLAN_FILES_MAX];
    size_t n;
} scenario_t;

static wp_plan_pool_t pool(int replicas, int tp, int dp)
{
    return (wp_plan_pool_t){.replicas = replicas, .tensor_parallel = tp, .data_parallel = dp};
}

static void base_deploy(scenario_t *s, const char *name, const char *model, const char *gpu)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->d.name = "wellpath";
    s->d.namespace_ = "llm";
    s->d.model = wp_model_find(model);
    s->d.gpu = wp_gpu_find(gpu);
    assert_non_null(s->d.model);
    assert_non_null(s->d.gpu);
    s->d.prefix_caching = true;
    s->d.gpu_memory_utilization = 0.9;
    s->d.vllm_image = "vllm/vllm-openai:v0.12.0";
    s->d.gateway_image = "ghcr.io/example/wellpath:0.1";
    s->d.vllm_port = 8000;
    s->d.gateway_port = 8000;
    s->rules = read_repo_file("deploy/prometheus/wellpath-rules.yml");
    s->guide = read_repo_file("deploy/prometheus/guide-rules.yml");
    s->dashboard = read_repo_file("deploy/grafana/wellpath-dashboard.json");
    s->d.prometheus_rules_yaml = s->rules;
    s->d.guide_rules_yaml = s->guide;
    s->d.grafana_dashboard_json = s->dashboard;
}

/* The gateway's topology: the scheduler, then the endpoints the renderer names. */
static void add_topology(scenario_t *s)
{
    wp_err_t err = {{0}};
    wp_buf_init(&s->topology, 0);
    assert_int_equal(wp_buf_printf(&s->topology,
                                   "# %s\nmodel: %s\ngpu: %s\ninferenceScheduler:\n  scorers:\n"
                                   "    - {type: prefix-aware, weight: 100}\n"
                                   "    - {type: load-aware, weight: 50}\n",
                                   s->name, s->d.model->name, s->d.gpu->name),
                     WP_OK);
    assert_int_equal(wp_plan_render_endpoints(&s->d, &s->topology, &err), WP_OK);
    s->d.topology_yaml = s->topology.data;
}

static void path1(scenario_t *s)
{
    base_deploy(s, "path1", "qwen3-32b", "h100");
    s->d.cand =
        (wp_plan_candidate_t){.path = WP_PLAN_PATH_1, .pool = pool(8, 2, 1), .label = "8 x TP2"};
    add_topology(s);
}

static void path2(scenario_t *s)
{
    base_deploy(s, "path2", "gpt-oss-120b", "h200");
    s->d.cand = (wp_plan_candidate_t){.path = WP_PLAN_PATH_2,
                                      .pd = true,
                                      .prefill = pool(4, 1, 1),
                                      .decode = pool(2, 4, 1),
                                      .label = "4P TP1 + 2D TP4"};
    s->d.max_model_len = 32768;
    s->d.keda = true;
    s->d.gateway_api = true;
    add_topology(s);
}

static void path3(scenario_t *s)
{
    base_deploy(s, "path3", "deepseek-r1", "h200");
    s->d.cand = (wp_plan_candidate_t){.path = WP_PLAN_PATH_3,
                                      .pd = true,
                                      .prefill = pool(1, 1, 16),
                                      .decode = pool(1, 1, 16),
                                      .label = "EP16 P + EP16 D"};
    s->d.prefix_caching = false;
    s->d.kv_cache_dtype = "fp8";
    s->d.keda = true;
    s->d.gateway_api = true;
    s->d.model_cache_pvc = "hf-cache";
    add_topology(s);
}

static void scenario_free(scenario_t *s)
{
    wp_plan_files_free(s->files, s->n);
    wp_buf_free(&s->topology);
    free(s->rules);
    free(s->guide);
    free(s->dashboard);
}

/* Writes the files where WELLPATH_MANIFEST_DIR says, when it says. */
static void maybe_write(const scenario_t *s)
{
    const char *dir = getenv("WELLPATH_MANIFEST_DIR");
    if (dir == NULL || dir[0] == 0)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, s->name);
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
    for (size_t i = 0; i < s->n; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", dir, s->name, s->files[i].name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(s->files[i].text, 1, s->files[i].len, f), s->files[i].len);
        assert_int_equal(fclose(f), 0);
    }
}

static void render(scenario_t *s)
{
    wp_err_t err = {{0}};
    wp_status_t st = wp_plan_render(&s->d, s->files, WP_PLAN_FILES_MAX, &s->n, &err);
    if (st != WP_OK)
        fail_msg("render %s: %s", s->name, err.msg);
}

static const char *file_text(const scenario_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return s->files[i].text;
    fail_msg("%s: no file %s", s->name, name);
    return NULL;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

#define assert_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL)                                                       \
            fail_msg("missing: %s", (needle));                                                     \
    } while (0)
#define assert_lacks(hay, needle)                                                                  \
    do {                                                                                           \
        if (strstr((hay), (needle)) != NULL)                                                       \
            fail_msg("unexpected: %s", (needle));                                                  \
    } while (0)

/* ---- the three paths ---- */

static void test_manifest_path1(void **state)
{
    (void)state;
    scenario_t s;
    path1(&s);
    render(&s);
    maybe_write(&s);
    assert_int_equal(s.n, 3); /* no keda.yaml, no gateway-api.yaml */
    const char *m = file_text(&s, "model-servers.yaml");
    assert_int_equal(s.files[0].objects, 2);
    assert_int_equal(count_of(m, "\nkind: Service\n"), 1);
    assert_int_equal(count_of(m, "\nkind: StatefulSet\n"), 1);
    assert_int_equal(count_of(m, "LeaderWorkerSet"), 0);
    assert_has(m, "  name: \"wellpath-vllm\"\n  namespace: \"llm\"\n");
    assert_has(m, "  clusterIP: \"None\"\n");
    assert_has(m, "  replicas: 8\n");
    assert_has(m, "nvidia.com/gpu: \"2\"\n");
    assert_has(m, "- \"serve\"\n");
    assert_has(m, "- \"Qwen/Qwen3-32B\"\n");
    assert_has(m, "- \"--port\"\n        - \"8000\"\n");
    assert_has(m, "- \"--tensor-parallel-size\"\n        - \"2\"\n");
    assert_has(m, "- \"--enable-prefix-caching\"\n");
    assert_has(m, "- \"--gpu-memory-utilization\"\n        - \"0.9\"\n");
    assert_lacks(m, "--kv-transfer-config");
    assert_lacks(m, "--data-parallel");
    assert_lacks(m, "--max-model-len");
    assert_lacks(m, "NIXL");
    assert_has(m, "startupProbe:\n");
    assert_has(m, "readinessProbe:\n");
    assert_has(m, "livenessProbe:\n");
    assert_has(m, "path: \"/health\"");
    assert_has(m, "mountPath: \"/dev/shm\"");
    assert_has(m, "medium: \"Memory\"");

    const char *g = file_text(&s, "gateway.yaml");
    assert_int_equal(s.files[1].objects, 3);
    assert_has(g, "\nkind: ConfigMap\n");
    assert_has(g, "\nkind: Deployment\n");
    assert_has(g, "\nkind: Service\n");
    assert_has(g, "- \"wellpath\"\n");
    assert_has(g, "- \"gateway\"\n        - \"-f\"\n        - \"/etc/wellpath/topology.yaml\"\n"
                  "        - \"--listen\"\n        - \"0.0.0.0:8000\"\n");
    assert_has(g, "  topology.yaml: |2\n    # path1\n    model: qwen3-32b\n");
    assert_has(g, "wellpath-vllm-7.wellpath-vllm.llm.svc.cluster.local:8000");
    assert_has(g, "image: \"ghcr.io/example/wellpath:0.1\"");

    const char *mon = file_text(&s, "monitoring.yaml");
    assert_int_equal(count_of(mon, "\nkind: PrometheusRule\n"), 2);
    assert_has(mon, "\nkind: ServiceMonitor\n");
    assert_has(mon, "\nkind: PodMonitor\n");
    assert_has(mon, "grafana_dashboard: \"1\"");
    assert_has(mon, "spec:\n  # The production guide's three SLO alerts");
    assert_has(mon, "\n  groups:\n    - name: wellpath-slo\n");
    scenario_free(&s);
}

static void test_manifest_path2(void **state)
{
    (void)state;
    scenario_t s;
    path2(&s);
    render(&s);
    maybe_write(&s);
    assert_int_equal(s.n, 5);
    const char *m = file_text(&s, "model-servers.yaml");
    assert_int_equal(count_of(m, "\nkind: StatefulSet\n"), 2);
    assert_int_equal(count_of(m, "\nkind: Service\n"), 2);
    const char *pre = strstr(m, "kind: StatefulSet\nmetadata:\n  name: \"wellpath-prefill\"");
    const char *dec = strstr(m, "kind: StatefulSet\nmetadata:\n  name: \"wellpath-decode\"");
    assert_non_null(pre);
    assert_non_null(dec);
    assert_true(pre < dec);
    /* prefill: 4 servers of one GPU; decode: 2 of four */
    assert_non_null(strstr(pre, "  replicas: 4\n"));
    assert_true(strstr(pre, "  replicas: 4\n") < dec);
    assert_true(strstr(pre, "nvidia.com/gpu: \"1\"") < dec);
    assert_non_null(strstr(dec, "  replicas: 2\n"));
    assert_non_null(strstr(dec, "nvidia.com/gpu: \"4\""));
    assert_has(m, "- \"openai/gpt-oss-120b\"\n");
    assert_int_equal(count_of(m, "- \"--kv-transfer-config\"\n        - "
                                 "\"{\\\"kv_connector\\\":\\\"NixlConnector\\\","
                                 "\\\"kv_role\\\":\\\"kv_both\\\"}\"\n"),
                     2);
    assert_int_equal(count_of(m, "- \"--max-model-len\"\n        - \"32768\"\n"), 2);
    assert_int_equal(count_of(m, "VLLM_NIXL_SIDE_CHANNEL_HOST"), 2);
    assert_int_equal(count_of(m, "fieldPath: \"status.podIP\""), 2);
    assert_int_equal(count_of(m, "- \"IPC_LOCK\""), 2);
    assert_lacks(m, "--data-parallel");

    const char *k = file_text(&s, "keda.yaml");
    assert_has(k, "\nkind: ScaledObject\n");
    assert_has(k, "    kind: \"StatefulSet\"\n    name: \"wellpath-decode\"\n");
    assert_has(k, "  maxReplicaCount: 2\n");
    assert_has(k, "sum(wellpath_gateway_queue_length{namespace=\\\"llm\\\","
                  "job=\\\"wellpath-gateway\\\"})");
    assert_has(k, "wellpath_gateway_in_flight");

    const char *api = file_text(&s, "gateway-api.yaml");
    assert_has(api, "apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\n");
    assert_has(api, "wellpath/pool: \"decode\"");
    assert_has(api, "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n");
    assert_has(api, "- name: \"inference-gateway\"");
    assert_has(api, "- name: \"wellpath-gateway\"\n      port: 8000\n");
    scenario_free(&s);
}

static void test_manifest_path3(void **state)
{
    (void)state;
    scenario_t s;
    path3(&s);
    render(&s);
    maybe_write(&s);
    const char *m = file_text(&s, "model-servers.yaml");
    assert_int_equal(count_of(m, "\nkind: LeaderWorkerSet\n"), 2);
    assert_int_equal(count_of(m, "\nkind: Service\n"), 2);
    assert_int_equal(count_of(m, "StatefulSet"), 0);
    assert_int_equal(count_of(m, "    size: 2\n"), 2); /* 16 ranks = 2 nodes of 8 */
    assert_int_equal(count_of(m, "nvidia.com/gpu: \"8\""), 4);
    assert_int_equal(count_of(m, "leaderTemplate:"), 2);
    assert_int_equal(count_of(m, "workerTemplate:"), 2);
    /* leaders: the API server and ranks 0..7 */
    assert_int_equal(count_of(m, "exec vllm serve deepseek-ai/DeepSeek-R1 --port 8000 "
                                 "--tensor-parallel-size 1 --no-enable-prefix-caching "
                                 "--gpu-memory-utilization 0.9 --kv-cache-dtype fp8 "
                                 "--kv-transfer-config "
                                 "'{\\\"kv_connector\\\":\\\"NixlConnector\\\","
                                 "\\\"kv_role\\\":\\\"kv_both\\\"}' "
                                 "--data-parallel-size 16 --enable-expert-parallel "
                                 "--data-parallel-size-local 8 "
                                 "--data-parallel-address \\\"$LWS_LEADER_ADDRESS\\\" "
                                 "--data-parallel-rpc-port 5555 --api-server-count 8\""),
                     2);
    /* workers: headless, ranks from 8 */
    assert_int_equal(count_of(m, "exec vllm serve deepseek-ai/DeepSeek-R1 --headless "
                                 "--tensor-parallel-size 1"),
                     2);
    assert_int_equal(count_of(m, "--data-parallel-start-rank "
                                 "\\\"$((LWS_WORKER_INDEX * 8))\\\"\""),
                     2);
    assert_int_equal(count_of(m, "startupProbe:"), 2); /* leaders only */
    assert_int_equal(count_of(m, "claimName: \"hf-cache\""), 4);

    const char *k = file_text(&s, "keda.yaml");
    assert_has(k, "    apiVersion: \"leaderworkerset.x-k8s.io/v1\"\n"
                  "    kind: \"LeaderWorkerSet\"\n    name: \"wellpath-decode\"\n");
    const char *g = file_text(&s, "gateway.yaml");
    assert_has(g, "{url: \"http://wellpath-decode-0.wellpath-decode.llm.svc.cluster.local:8000\", "
                  "discover: dns, name: wellpath-decode-0-r15, group: wellpath-decode-0, "
                  "dataParallelRank: 15, role: decode}");
    scenario_free(&s);
}

/* Wide-EP groups of other shapes: one that fits a node is one StatefulSet pod; TP2 ranks
 * over two nodes put 4 ranks on each. */
static void test_manifest_wide_ep_shapes(void **state)
{
    (void)state;
    scenario_t s;
    base_deploy(&s, "ep8", "qwen3-30b-a3b", "h100");
    s.d.cand =
        (wp_plan_candidate_t){.path = WP_PLAN_PATH_3, .pool = pool(2, 1, 8), .label = "2 x EP8"};
    add_topology(&s);
    render(&s);
    const char *m = file_text(&s, "model-servers.yaml");
    assert_int_equal(count_of(m, "\nkind: StatefulSet\n"), 1);
    assert_int_equal(count_of(m, "LeaderWorkerSet"), 0);
    assert_has(m, "  replicas: 2\n");
    assert_has(m, "nvidia.com/gpu: \"8\"");
    assert_has(
        m, "- \"--data-parallel-size\"\n        - \"8\"\n        - \"--enable-expert-parallel\"\n"
           "        - \"--api-server-count\"\n        - \"8\"\n");
    assert_lacks(m, "--data-parallel-address");
    assert_lacks(m, "--kv-transfer-config");
    scenario_free(&s);

    base_deploy(&s, "tp2ep8", "deepseek-r1", "h200");
    s.d.cand =
        (wp_plan_candidate_t){.path = WP_PLAN_PATH_3, .pool = pool(1, 2, 8), .label = "EP8 x TP2"};
    add_topology(&s);
    render(&s);
    m = file_text(&s, "model-servers.yaml");
    assert_int_equal(count_of(m, "\nkind: LeaderWorkerSet\n"), 1);
    assert_has(m, "    size: 2\n");
    assert_int_equal(count_of(m, "nvidia.com/gpu: \"8\""), 2);
    assert_int_equal(count_of(m, "--tensor-parallel-size 2 "), 2);
    assert_int_equal(count_of(m, "--data-parallel-size 8 --enable-expert-parallel "
                                 "--data-parallel-size-local 4 "),
                     2);
    assert_has(m, "--data-parallel-start-rank \\\"$((LWS_WORKER_INDEX * 4))\\\"\"");
    assert_has(m, "--api-server-count 4\"");
    scenario_free(&s);
}

/* ---- every flag known ---- */

static void check_flags(const char *text, const char *docs)
{
    int seen = 0;
    for (const char *p = strstr(text, "--"); p != NULL; p = strstr(p + 2, "--")) {
        if (p[2] < 'a' || p[2] > 'z')
            continue;
        char flag[64];
        size_t n = 2;
        while (n < sizeof(flag) - 1 &&
               ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '-' || (p[n] >= '0' && p[n] <= '9')))
            n++;
        memcpy(flag, p, n);
        flag[n] = 0;
        if (wp_plan_vllm_flag_find(flag) == NULL)
            fail_msg("rendered flag %s is not in vllm_flags.c", flag);
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "`%s`", flag);
        if (strstr(docs, quoted) == NULL)
            fail_msg("flag %s is not in docs/vllm-flags.md", flag);
        seen++;
    }
    assert_true(seen >= 4); /* --port, TP, prefix caching, memory at least */
}

static void test_manifest_flags_known(void **state)
{
    (void)state;
    char *docs = read_repo_file("docs/vllm-flags.md");
    void (*paths[])(scenario_t *) = {path1, path2, path3};
    for (size_t i = 0; i < 3; i++) {
        scenario_t s;
        paths[i](&s);
        render(&s);
        check_flags(file_text(&s, "model-servers.yaml"), docs);
        scenario_free(&s);
    }
    for (size_t i = 0; i < wp_plan_vllm_flag_count(); i++) {
        const wp_plan_vllm_flag_t *f = wp_plan_vllm_flag_at(i);
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "`%s`", f->flag);
        if (strstr(docs, quoted) == NULL)
            fail_msg("table flag %s is not in docs/vllm-flags.md", f->flag);
        assert_true(strncmp(f->source, "vllm/", 5) == 0);
        assert_ptr_equal(wp_plan_vllm_flag_find(f->flag), f);
    }
    assert_null(wp_plan_vllm_flag_at(wp_plan_vllm_flag_count()));
    assert_null(wp_plan_vllm_flag_find("--trust-remote-code"));
    free(docs);
}

/* ---- the YAML parses back, texts byte for byte ---- */

typedef struct parsed_s {
    int documents;
    char *values[4]; /* values of the keys asked for, in order of keys[] */
} parsed_t;

static void parse_yaml(const char *text, const char *const keys[], size_t n_keys, parsed_t *out)
{
    yaml_parser_t p;
    yaml_event_t ev;
    memset(out, 0, sizeof(*out));
    assert_true(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    int want = -1;
    for (;;) {
        if (!yaml_parser_parse(&p, &ev))
            fail_msg("YAML error: %s at line %zu", p.problem ? p.problem : "?",
                     p.problem_mark.line + 1);
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_START_EVENT)
            out->documents++;
        if (t == YAML_SCALAR_EVENT) {
            const char *v = (const char *)ev.data.scalar.value;
            if (want >= 0) {
                out->values[want] = malloc(ev.data.scalar.length + 1);
                memcpy(out->values[want], v, ev.data.scalar.length + 1);
                want = -1;
            } else {
                for (size_t k = 0; k < n_keys; k++)
                    if (strcmp(v, keys[k]) == 0 && out->values[k] == NULL)
                        want = (int)k;
            }
        } else {
            want = -1;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
}

static void parsed_free(parsed_t *p)
{
    for (size_t i = 0; i < 4; i++)
        free(p->values[i]);
}

static void test_manifest_parses_back(void **state)
{
    (void)state;
    void (*paths[])(scenario_t *) = {path1, path2, path3};
    for (size_t i = 0; i < 3; i++) {
        scenario_t s;
        paths[i](&s);
        render(&s);
        for (size_t f = 0; f < s.n; f++) {
            static const char *const keys[] = {"topology.yaml", "wellpath-dashboard.json"};
            parsed_t p;
            parse_yaml(s.files[f].text, keys, 2, &p);
            assert_int_equal(p.documents, s.files[f].objects);
            if (strcmp(s.files[f].name, "gateway.yaml") == 0)
                assert_string_equal(p.values[0], s.d.topology_yaml);
            if (strcmp(s.files[f].name, "monitoring.yaml") == 0)
                assert_string_equal(p.values[1], s.dashboard);
            parsed_free(&p);
        }
        scenario_free(&s);
    }
}

/* Texts a literal block cannot carry as they are, and the chomping cases. */
static void test_manifest_text_verbatim(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "model: a\n",         "model: a",
        "model: a\n\n\n",     "  indented first\nx: 1\n",
        "a: 1\r\nb: 2\r\n",   "tab\there\n",
        "bell\a\n",           "utf8: caf\xc3\xa9 \xe2\x80\xa8\n",
        "# only a comment\n", "\n\nleading blank\n",
        "trailing  \n  \n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        scenario_t s;
        path1(&s);
        s.d.topology_yaml = texts[i];
        render(&s);
        static const char *const keys[] = {"topology.yaml"};
        parsed_t p;
        parse_yaml(file_text(&s, "gateway.yaml"), keys, 1, &p);
        assert_non_null(p.values[0]);
        assert_string_equal(p.values[0], texts[i]);
        parsed_free(&p);
        scenario_free(&s);
    }
}

static void test_manifest_deterministic(void **state)
{
    (void)state;
    scenario_t a, b;
    path3(&a);
    path3(&b);
    render(&a);
    render(&b);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.files[i].len, b.files[i].len);
        assert_memory_equal(a.files[i].text, b.files[i].text, a.files[i].len);
    }
    scenario_free(&a);
    scenario_free(&b);
}

/* ---- the endpoints, through the gateway's own parser ---- */

static void test_manifest_endpoints(void **state)
{
    (void)state;
    void (*paths[])(scenario_t *) = {path1, path2, path3};
    static const size_t want[] = {8, 6, 32};
    for (size_t i = 0; i < 3; i++) {
        scenario_t s;
        paths[i](&s);
        wp_topology_t t;
        wp_err_t err = {{0}};
        wp_status_t st = wp_topology_parse(s.d.topology_yaml, strlen(s.d.topology_yaml),
                                           "topology.yaml", &t, &err);
        if (st != WP_OK)
            fail_msg("%s: %s", s.name, err.msg);
        assert_int_equal(t.n_endpoints, want[i]);
        if (i == 2) {
            assert_true(t.endpoints[31].has_data_parallel_rank);
            assert_int_equal(t.endpoints[31].data_parallel_rank, 15);
            assert_string_equal(t.endpoints[31].group, "wellpath-decode-0");
            assert_int_equal(t.endpoints[0].role, WP_TOPO_ROLE_PREFILL);
            assert_int_equal(t.endpoints[31].role, WP_TOPO_ROLE_DECODE);
        }
        wp_topology_free(&t);
        scenario_free(&s);
    }
    scenario_t s;
    path2(&s);
    char host[256];
    wp_err_t err = {{0}};
    assert_int_equal(wp_plan_server_host(&s.d, WP_PLAN_ROLE_DECODE, 1, host, sizeof(host), &err),
                     WP_OK);
    assert_string_equal(host, "wellpath-decode-1.wellpath-decode.llm.svc.cluster.local");
    assert_int_equal(wp_plan_server_host(&s.d, WP_PLAN_ROLE_DECODE, 2, host, sizeof(host), &err),
                     WP_EINVAL);
    assert_int_equal(wp_plan_server_host(&s.d, WP_PLAN_ROLE_BOTH, 0, host, sizeof(host), &err),
                     WP_EINVAL);
    assert_int_equal(wp_plan_server_host(&s.d, WP_PLAN_ROLE_PREFILL, 0, host, 8, &err), WP_ELIMIT);
    scenario_free(&s);
}

/* ---- optional objects left out, with notes ---- */

static void test_manifest_left_out(void **state)
{
    (void)state;
    scenario_t s;
    path1(&s);
    s.d.prometheus_rules_yaml = NULL;
    s.d.guide_rules_yaml = NULL;
    s.d.grafana_dashboard_json = NULL;
    render(&s);
    const char *mon = file_text(&s, "monitoring.yaml");
    assert_int_equal(count_of(mon, "kind: PrometheusRule"), 0);
    assert_int_equal(count_of(mon, "grafana_dashboard"), 0);
    assert_has(mon, "# PrometheusRule wellpath-slo left out: no rules text given");
    assert_has(mon, "# ConfigMap left out: no Grafana dashboard given");
    char notes[WP_PLAN_NOTES_MAX][WP_PLAN_NOTE_MAX];
    size_t n = wp_plan_notes(&s.d, notes, WP_PLAN_NOTES_MAX);
    assert_int_equal(n, 4); /* two rules, the dashboard, the weights' cache */
    assert_non_null(strstr(notes[0], "wellpath-slo left out"));
    assert_non_null(strstr(notes[2], "wellpath-grafana-dashboard left out"));
    assert_int_equal(wp_plan_notes(&s.d, notes, 1), 4); /* counts past cap */
    scenario_free(&s);
}

/* ---- bad input ---- */

static void expect_error(scenario_t *s, wp_status_t want, const char *msg)
{
    wp_err_t err = {{0}};
    s->n = 99;
    wp_status_t st = wp_plan_render(&s->d, s->files, WP_PLAN_FILES_MAX, &s->n, &err);
    assert_int_equal(st, want);
    assert_int_equal(s->n, 0);
    for (size_t i = 0; i < WP_PLAN_FILES_MAX; i++)
        assert_null(s->files[i].text);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("error '%s' does not say '%s'", err.msg, msg);
}

static void test_manifest_bad_input(void **state)
{
    (void)state;
    scenario_t s;
    path1(&s);
    s.d.model = NULL;
    expect_error(&s, WP_EINVAL, "model: missing");
    scenario_free(&s);

    path1(&s);
    s.d.gpu = NULL;
    expect_error(&s, WP_EINVAL, "gpu: missing");
    scenario_free(&s);

    path1(&s);
    s.d.cand.pool.replicas = 0;
    expect_error(&s, WP_EINVAL, "pool vllm: replicas 0 (at least 1)");
    scenario_free(&s);

    path2(&s);
    s.d.cand.decode.replicas = -1;
    expect_error(&s, WP_EINVAL, "pool decode: replicas -1");
    scenario_free(&s);

    path1(&s);
    s.d.cand.pool.tensor_parallel = 3;
    expect_error(&s, WP_EINVAL, "tensor_parallel 3 does not divide a node of 8 GPUs");
    scenario_free(&s);

    path1(&s);
    s.d.gpus_per_node = 2;
    s.d.cand.pool.tensor_parallel = 4;
    expect_error(&s, WP_EINVAL, "tensor_parallel 4 does not divide a node of 2 GPUs");
    scenario_free(&s);

    path1(&s);
    s.d.cand.pool.data_parallel = 4;
    expect_error(&s, WP_EINVAL, "qwen3-32b is a dense model");
    scenario_free(&s);

    path3(&s);
    s.d.cand.decode.data_parallel = 12;
    expect_error(&s, WP_EINVAL, "wide-EP group of 12 GPUs does not fill whole nodes of 8");
    scenario_free(&s);

    path1(&s);
    s.d.name = "Wellpath_1";
    expect_error(&s, WP_EINVAL, "name 'Wellpath_1': not a DNS-1123 label");
    scenario_free(&s);

    path1(&s);
    s.d.name = "a-name-that-is-far-too-long-for-us";
    expect_error(&s, WP_EINVAL, "at most 30 characters");
    scenario_free(&s);

    path1(&s);
    s.d.namespace_ = "-ns";
    expect_error(&s, WP_EINVAL, "namespace '-ns'");
    scenario_free(&s);

    path1(&s);
    s.d.topology_yaml = NULL;
    expect_error(&s, WP_EINVAL, "topology_yaml: missing");
    scenario_free(&s);

    path1(&s);
    s.d.topology_yaml = "model: \xff\n";
    expect_error(&s, WP_EINVAL, "topology_yaml: not UTF-8");
    scenario_free(&s);

    path1(&s);
    s.d.prometheus_rules_yaml = "groups: []\n---\ngroups: []\n";
    expect_error(&s, WP_EINVAL, "prometheus_rules_yaml:2: document markers");
    scenario_free(&s);

    path1(&s);
    s.d.guide_rules_yaml = "rules: []\n";
    expect_error(&s, WP_EINVAL, "guide_rules_yaml: no top-level 'groups:'");
    scenario_free(&s);

    path1(&s);
    s.d.gpu_memory_utilization = 1.5;
    expect_error(&s, WP_EINVAL, "gpu_memory_utilization 1.5");
    scenario_free(&s);

    path1(&s);
    s.d.kv_cache_dtype = "fp8; rm -rf /";
    expect_error(&s, WP_EINVAL, "kv_cache_dtype");
    scenario_free(&s);

    path1(&s);
    s.d.vllm_image = "vllm image";
    expect_error(&s, WP_EINVAL, "image 'vllm image'");
    scenario_free(&s);

    path1(&s);
    s.d.vllm_port = 70000;
    expect_error(&s, WP_EINVAL, "port 70000");
    scenario_free(&s);

    path1(&s);
    s.d.prometheus_url = "prometheus:9090";
    expect_error(&s, WP_EINVAL, "prometheus_url");
    scenario_free(&s);

    /* no room for the optional files */
    path2(&s);
    wp_err_t err = {{0}};
    s.n = 7;
    assert_int_equal(wp_plan_render(&s.d, s.files, 3, &s.n, &err), WP_ELIMIT);
    assert_int_equal(s.n, 0);
    assert_non_null(strstr(err.msg, "keda.yaml does not fit"));
    scenario_free(&s);

    assert_int_equal(wp_plan_render(NULL, s.files, WP_PLAN_FILES_MAX, &s.n, &err), WP_EINVAL);
}

/* Defaults fill what the caller left out. */
static void test_manifest_defaults(void **state)
{
    (void)state;
    scenario_t s;
    path1(&s);
    s.d.name = NULL;
    s.d.namespace_ = NULL;
    s.d.vllm_image = NULL;
    s.d.gateway_image = NULL;
    s.d.vllm_port = 0;
    s.d.gateway_port = 0;
    s.d.gpu_memory_utilization = 0;
    render(&s);
    const char *m = file_text(&s, "model-servers.yaml");
    assert_has(m, "name: \"wellpath-vllm\"\n  namespace: \"default\"");
    assert_has(m, "image: \"" WP_PLAN_DEFAULT_VLLM_IMAGE "\"");
    assert_has(m, "- \"--gpu-memory-utilization\"\n        - \"0.9\"");
    assert_has(file_text(&s, "gateway.yaml"), "image: \"" WP_PLAN_DEFAULT_GATEWAY_IMAGE "\"");
    scenario_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_path1),
        cmocka_unit_test(test_manifest_path2),
        cmocka_unit_test(test_manifest_path3),
        cmocka_unit_test(test_manifest_flags_known),
        cmocka_unit_test(test_manifest_parses_back),
        cmocka_unit_test(test_manifest_text_verbatim),
        cmocka_unit_test(test_manifest_deterministic),
        cmocka_unit_test(test_manifest_endpoints),
        cmocka_unit_test(test_manifest_left_out),
        cmocka_unit_test(test_manifest_bad_input),
        cmocka_unit_test(test_manifest_defaults),
        cmocka_unit_test(test_manifest_wide_ep_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
