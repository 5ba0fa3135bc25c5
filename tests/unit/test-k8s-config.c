/*
 * test-k8s-config.c: connection settings (k8s/config.c): kubeconfig
 * variants (token, tokenFile, client certificate data, CA data against
 * a CA file, named contexts) and their errors, each naming the file and
 * the field (missing current-context, bad base64, insecure TLS refused
 * unless allowed, credential plugins, YAML syntax); the in-cluster
 * service account from a temporary directory, and token rotation the
 * way the kubelet does it (an atomic swap of the ..data symlink).
 *
 * Works in a temporary directory; does not talk to a server.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char *dir;

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *t;

	xasprintf(&t, "%s/paia-k8s-config-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(t) == NULL)
		return -1;
	dir = t;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int
teardown(void **state)
{
	util_rmtree(dir);
	free(dir);
	return 0;
}

static char *
put(const char *name, const char *text)
{
	char *path, *cause = NULL;

	xasprintf(&path, "%s/%s", dir, name);
	if (util_write_file(path, text, strlen(text), 0600, &cause) != 0)
		fail_msg("%s", cause);
	return path;
}

/* "hello CA" and friends, base64. */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define B64_CA "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define B64_CERT "Y2VydC1wZW0="	/* cert-pem */
#define B64_KEY "a2V5LXBlbQ=="	/* key-pem */

static const char *kubeconfig_head =
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "- name: gpu\n"
    "  cluster:\n"
    "    server: https://192.0.2.10:6443/\n"
    "    certificate-authority-data: " B64_CA "\n"
    "- name: file-ca\n"
    "  cluster:\n"
    "    server: https://k8s.example:6443\n"
    "    certificate-authority: ca.pem\n"
    "- name: lax\n"
    "  cluster:\n"
    "    server: https://k8s.example:6443\n"
    "    insecure-skip-tls-verify: true\n"
    "contexts:\n"
    "- name: tok\n"
    "  context: {cluster: gpu, user: tok, namespace: paia}\n"
    "- name: tokfile\n"
    "  context: {cluster: file-ca, user: tokfile}\n"
    "- name: cert\n"
    "  context:\n"
    "    cluster: gpu\n"
    "    user: cert\n"
    "- name: lax\n"
    "  context: {cluster: lax, user: tok}\n"
    "- name: badkey\n"
    "  context: {cluster: gpu, user: badkey}\n"
    "- name: plugin\n"
    "  context: {cluster: gpu, user: plugin}\n"
    "- name: nouser\n"
    "  context: {cluster: nowhere, user: tok}\n"
    "- name: halfcert\n"
    "  context: {cluster: gpu, user: halfcert}\n"
    "users:\n"
    "- name: tok\n"
    "  user:\n"
    "    token: s3cr3t-t0ken\n"
    "- name: tokfile\n"
    "  user:\n"
    "    tokenFile: tokens/gw.token\n"
    "- name: cert\n"
    "  user:\n"
    "    client-certificate-data: " B64_CERT "\n"
    "    client-key-data: " B64_KEY "\n"
    "- name: badkey\n"
    "  user:\n"
    "    client-certificate-data: " B64_CERT "\n"
    "    client-key-data: a2V5!LXBlbQ==\n"
    "- name: plugin\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: aws\n"
    "- name: halfcert\n"
    "  user:\n"
    "    client-certificate-data: " B64_CERT "\n";

static char *
kubeconfig(const char *current)
{
	char *text, *path;

	xasprintf(&text, "%s%s%s%s", kubeconfig_head, current != NULL ? "current-context: " : "",
	    current != NULL ? current : "", current != NULL ? "\n" : "");
	path = put("kubeconfig", text);
	free(text);
	return path;
}

static struct k8s_config *
load_ok(const char *path, const char *context, int flags)
{
	struct k8s_config *c;
	char *cause = NULL;

	c = k8s_config_load_kubeconfig(path, context, flags, &cause);
	if (c == NULL)
		fail_msg("load failed: %s", cause);
	return c;
}

static void
load_fails(const char *path, const char *context, int flags, const char *want)
{
	struct k8s_config *c;
	char *cause = NULL;

	c = k8s_config_load_kubeconfig(path, context, flags, &cause);
	if (c != NULL)
		fail_msg("context %s loaded, expected %s", context, want);
	if (strstr(cause, want) == NULL || strstr(cause, path) == NULL)
		fail_msg("error \"%s\" does not name \"%s\" and the file", cause, want);
	free(cause);
}

static void
test_token_and_ca_data(void **state)
{
	char *path = kubeconfig("tok");
	struct k8s_config *c = load_ok(path, NULL, 0);
	const char *token;
	char *cause = NULL;

	assert_string_equal(k8s_config_server(c), "https://192.0.2.10:6443");
	assert_string_equal(k8s_config_namespace(c), "paia");
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "s3cr3t-t0ken");
	assert_int_equal(c->ca_len, strlen(CA_PEM));
	assert_memory_equal(c->ca, CA_PEM, c->ca_len);
	assert_null(c->cert);
	assert_int_equal(c->insecure, 0);
	assert_non_null(strstr(k8s_config_describe(c), "context tok"));
	k8s_config_free(c);
	free(path);
}

static void
test_token_file_and_ca_file(void **state)
{
	char *path = kubeconfig("tok"), *ca, *tokdir, *tok;
	struct k8s_config *c;
	const char *token;
	char *cause = NULL;

	ca = put("ca.pem", CA_PEM);
	xasprintf(&tokdir, "%s/tokens", dir);
	assert_int_equal(util_mkdirs(tokdir, 0700, &cause), 0);
	tok = put("tokens/gw.token", "first-token\n");
	/* Relative paths are relative to the kubeconfig's directory. */
	c = load_ok(path, "tokfile", 0);
	assert_string_equal(k8s_config_namespace(c), "default");
	assert_memory_equal(c->ca, CA_PEM, c->ca_len);
	k8s_config_set_token_recheck(c, 0);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "first-token");
	/* Rewritten (tmp + rename: a new inode): read again. */
	free(put("tokens/gw.token", "second-token"));
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "second-token");
	/* Gone for a moment: the last token is kept. */
	unlink(tok);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "second-token");
	k8s_config_free(c);
	/* Missing at load: the error names the field and the file. */
	load_fails(path, "tokfile", 0, "users[name=tokfile].user.tokenFile");
	unlink(ca);
	load_fails(path, "tokfile", 0, "clusters[name=file-ca].cluster.certificate-authority");
	free(tok);
	free(ca);
	free(tokdir);
	free(path);
}

static void
test_client_cert_data(void **state)
{
	char *path = kubeconfig("tok");
	struct k8s_config *c = load_ok(path, "cert", 0);
	const char *token = "x";
	char *cause = NULL;

	assert_int_equal(c->cert_len, 8);
	assert_memory_equal(c->cert, "cert-pem", 8);
	assert_int_equal(c->key_len, 7);
	assert_memory_equal(c->key, "key-pem", 7);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_null(token);
	k8s_config_free(c);
	load_fails(path, "halfcert", 0, "users[name=halfcert].user.client-key: missing");
	free(path);
}

static void
test_errors_name_the_field(void **state)
{
	char *path = kubeconfig(NULL), *bad;

	load_fails(path, NULL, 0, "current-context: not set");
	load_fails(path, "badkey", 0, "users[name=badkey].user.client-key-data: invalid base64 "
	    "at byte 4");
	load_fails(path, "plugin", 0, "users[name=plugin].user.exec: credential plugins are not "
	    "supported");
	load_fails(path, "nouser", 0, "clusters: no entry named \"nowhere\"");
	load_fails(path, "nosuch", 0, "contexts: no entry named \"nosuch\"");
	load_fails(path, "lax", 0, "clusters[name=lax].cluster.insecure-skip-tls-verify: TLS "
	    "verification is required");
	free(path);
	bad = put("kubeconfig", "clusters:\n- name: a\n  cluster: [unclosed\n");
	load_fails(bad, "x", 0, "line 4 column 1");
	free(bad);
	bad = put("kubeconfig", "current-context: a\ncontexts:\n- name: a\n  context: {cluster: "
	    "c}\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:8080\"}\n");
	load_fails(bad, NULL, 0, "clusters[name=c].cluster.server: TLS verification is required");
	free(bad);
	bad = put("kubeconfig", "current-context: a\ncontexts:\n- name: a\n  context: {cluster: "
	    "c}\nclusters:\n- name: c\n  cluster: {server: \"ftp://x\"}\n");
	load_fails(bad, NULL, 0, "clusters[name=c].cluster.server: \"ftp://x\" is not an https:// URL");
	free(bad);
	bad = put("kubeconfig", "current-context: a\ncontexts:\n- name: a\n  context: {cluster: "
	    "c}\nclusters:\n- name: c\n  cluster: {server: [1, 2]}\n");
	load_fails(bad, NULL, 0, "clusters[name=c].cluster.server: a string is expected");
	free(bad);
	bad = put("kubeconfig", "");
	load_fails(bad, NULL, 0, "empty");
	free(bad);
}

static void
test_insecure_allowed(void **state)
{
	char *path = kubeconfig("lax");
	struct k8s_config *c = load_ok(path, NULL, K8S_CONFIG_ALLOW_INSECURE);

	assert_int_equal(c->insecure, 1);
	assert_null(c->ca);
	k8s_config_free(c);
	free(path);
}

static void
test_no_files_flag(void **state)
{
	char *path = kubeconfig("tokfile"), *cause = NULL, *text;
	size_t len;
	struct k8s_config *c;

	text = util_read_file(path, 1 << 20, &len, &cause);
	c = k8s_config_parse_kubeconfig(text, len, path, NULL, K8S_CONFIG_NO_FILES, &cause);
	assert_null(c);
	assert_non_null(strstr(cause, "files are not allowed"));
	free(cause);
	free(text);
	free(path);
}

static void
test_kubeconfig_env(void **state)
{
	char *path = kubeconfig("cert"), *cause = NULL, *env;
	struct k8s_config *c;

	unsetenv("KUBERNETES_SERVICE_HOST");
	xasprintf(&env, "%s:/nonexistent/other", path);
	setenv("KUBECONFIG", env, 1);
	c = k8s_config_load(NULL, NULL, 0, &cause);
	assert_non_null(c);
	assert_non_null(c->cert);
	k8s_config_free(c);
	unsetenv("KUBECONFIG");
	free(env);
	free(path);
}

static void
test_incluster(void **state)
{
	char *sa, *cause = NULL, *p, *data1, *data2, *link;
	struct k8s_config *c;
	const char *token;

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	xasprintf(&sa, "%s/sa", dir);
	assert_null(k8s_config_load_incluster(sa, 0, &cause));
	assert_non_null(strstr(cause, "KUBERNETES_SERVICE_HOST"));
	free(cause);
	cause = NULL;
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_null(k8s_config_load_incluster(sa, 0, &cause));
	assert_non_null(strstr(cause, "/sa/token"));
	free(cause);
	cause = NULL;

	/* The kubelet's layout: files are symlinks into ..data, swapped atomically. */
	xasprintf(&data1, "%s/..2026_11_28_10_00_00.1", sa);
	xasprintf(&data2, "%s/..2026_11_28_11_00_00.2", sa);
	assert_int_equal(util_mkdirs(data1, 0755, &cause), 0);
	assert_int_equal(util_mkdirs(data2, 0755, &cause), 0);
	free(put("sa/..2026_11_28_10_00_00.1/token", "token-one\n"));
	free(put("sa/..2026_11_28_10_00_00.1/ca.crt", CA_PEM));
	free(put("sa/..2026_11_28_10_00_00.1/namespace", "paia-games"));
	free(put("sa/..2026_11_28_11_00_00.2/token", "token-two\n"));
	free(put("sa/..2026_11_28_11_00_00.2/ca.crt", CA_PEM));
	free(put("sa/..2026_11_28_11_00_00.2/namespace", "paia-games"));
	xasprintf(&link, "%s/..data", sa);
	assert_int_equal(symlink("..2026_11_28_10_00_00.1", link), 0);
	xasprintf(&p, "%s/token", sa);
	assert_int_equal(symlink("..data/token", p), 0);
	free(p);
	xasprintf(&p, "%s/ca.crt", sa);
	assert_int_equal(symlink("..data/ca.crt", p), 0);
	free(p);
	xasprintf(&p, "%s/namespace", sa);
	assert_int_equal(symlink("..data/namespace", p), 0);
	free(p);

	c = k8s_config_load_incluster(sa, 0, &cause);
	assert_non_null(c);
	assert_string_equal(k8s_config_server(c), "https://10.96.0.1:443");
	assert_string_equal(k8s_config_namespace(c), "paia-games");
	assert_memory_equal(c->ca, CA_PEM, c->ca_len);
	k8s_config_set_token_recheck(c, 0);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "token-one");
	/* Rotation: the kubelet swaps ..data with a rename. */
	xasprintf(&p, "%s/..data_tmp", sa);
	assert_int_equal(symlink("..2026_11_28_11_00_00.2", p), 0);
	assert_int_equal(rename(p, link), 0);
	free(p);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "token-two");
	/* With the default recheck interval it is not read again at once. */
	k8s_config_set_token_recheck(c, 60000);
	xasprintf(&p, "%s/..data_tmp", sa);
	assert_int_equal(symlink("..2026_11_28_10_00_00.1", p), 0);
	assert_int_equal(rename(p, link), 0);
	free(p);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "token-two");
	/* ... unless a 401 invalidated it. */
	k8s_config_token_invalidate(c);
	assert_int_equal(k8s_config_token(c, &token, &cause), 0);
	assert_string_equal(token, "token-one");
	k8s_config_free(c);

	/* IPv6 service host. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	c = k8s_config_load_incluster(sa, 0, &cause);
	assert_non_null(c);
	assert_string_equal(k8s_config_server(c), "https://[fd00::1]:443");
	k8s_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(link);
	free(data1);
	free(data2);
	free(sa);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_ca_data),
		cmocka_unit_test(test_token_file_and_ca_file),
		cmocka_unit_test(test_client_cert_data),
		cmocka_unit_test(test_errors_name_the_field),
		cmocka_unit_test(test_insecure_allowed),
		cmocka_unit_test(test_no_files_flag),
		cmocka_unit_test(test_kubeconfig_env),
		cmocka_unit_test(test_incluster),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
