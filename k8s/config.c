/*
 * config.c: where the API server is and how to prove who we are. From
 * a kubeconfig (YAML, parsed with libyaml's document loader: the
 * current or a named context, its cluster and user) or from the
 * in-cluster service account (environment and mounted files). Files a
 * kubeconfig names are read at load time, relative to its directory;
 * only a token file is read again, when it changes (projected service
 * account tokens rotate).
 *
 * It does not talk to the server, and never logs a secret.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#define CONFIG_MAX_FILE (4u << 20)

struct k8s_config_loader {
	const char *path;	/* for messages */
	char *dir;		/* relative paths start here */
	int flags;
	yaml_document_t doc;
	char **cause;
};

void
k8s_config_free(struct k8s_config *c)
{
	if (c == NULL)
		return;
	free(c->describe);
	free(c->server);
	free(c->namespace);
	free(c->ca);
	free(c->cert);
	if (c->key != NULL)
		memset(c->key, 0, c->key_len);
	free(c->key);
	if (c->token != NULL)
		memset(c->token, 0, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c);
}

const char *
k8s_config_server(const struct k8s_config *c)
{
	return c->server;
}

const char *
k8s_config_namespace(const struct k8s_config *c)
{
	return c->namespace != NULL ? c->namespace : "default";
}

const char *
k8s_config_describe(const struct k8s_config *c)
{
	return c->describe;
}

void
k8s_config_set_token_recheck(struct k8s_config *c, int ms)
{
	c->recheck_ms = ms < 0 ? 0 : ms;
}

void
k8s_config_token_invalidate(struct k8s_config *c)
{
	c->checked_ms = 0;
	c->token_ino = 0;
	c->token_size = -1;
}

/* Strict base64 (standard alphabet; whitespace ignored); -1 with the bad offset. */
static int
k8s_config_base64(const char *s, unsigned char **out, size_t *outlen, size_t *bad)
{
	size_t len = strlen(s), i, o = 0, pad = 0;
	unsigned int acc = 0, n = 0;
	unsigned char *buf = xmalloc(len / 4 * 3 + 3);
	int v;

	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			goto bad;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		if (++n == 4) {
			buf[o++] = (unsigned char)(acc >> 16);
			buf[o++] = (unsigned char)(acc >> 8);
			buf[o++] = (unsigned char)acc;
			acc = n = 0;
		}
	}
	if (n == 1 || pad > 2 || (pad > 0 && n + pad != 4))
		goto bad;
	if (n == 2)
		buf[o++] = (unsigned char)(acc >> 4);
	else if (n == 3) {
		buf[o++] = (unsigned char)(acc >> 10);
		buf[o++] = (unsigned char)(acc >> 2);
	}
	if (o == 0)
		goto bad;
	*out = buf;
	*outlen = o;
	return 0;
bad:
	*bad = i;
	free(buf);
	return -1;
}

static yaml_node_t *
k8s_config_yget(struct k8s_config_loader *l, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&l->doc, pair->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
			return yaml_document_get_node(&l->doc, pair->value);
	}
	return NULL;
}

/* A scalar's text, NULL if absent or YAML null; -1 if not a plain string. */
static int
k8s_config_scalar(struct k8s_config_loader *l, yaml_node_t *map, const char *key, const char *where,
    const char **out)
{
	yaml_node_t *n = k8s_config_yget(l, map, key);
	const char *v;

	*out = NULL;
	if (n == NULL)
		return 0;
	if (n->type != YAML_SCALAR_NODE) {
		xasprintf(l->cause, "kubeconfig %s: %s.%s: a string is expected", l->path, where, key);
		return -1;
	}
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length) {
		xasprintf(l->cause, "kubeconfig %s: %s.%s: contains a NUL byte", l->path, where, key);
		return -1;
	}
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0))
		return 0;
	*out = v;
	return 0;
}

/* The entry of a named list (clusters, contexts, users) and its inner map. */
static yaml_node_t *
k8s_config_named(struct k8s_config_loader *l, const char *list, const char *inner, const char *name)
{
	yaml_node_t *seq = k8s_config_yget(l, yaml_document_get_root_node(&l->doc), list), *e, *n;
	yaml_node_item_t *it;

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE) {
		xasprintf(l->cause, "kubeconfig %s: %s: %s", l->path, list,
		    seq == NULL ? "missing" : "a list is expected");
		return NULL;
	}
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		e = yaml_document_get_node(&l->doc, *it);
		n = k8s_config_yget(l, e, "name");
		if (n == NULL || n->type != YAML_SCALAR_NODE ||
		    strcmp((const char *)n->data.scalar.value, name) != 0)
			continue;
		if ((n = k8s_config_yget(l, e, inner)) == NULL || n->type != YAML_MAPPING_NODE) {
			xasprintf(l->cause, "kubeconfig %s: %s[name=%s].%s: %s", l->path, list,
			    name, inner, n == NULL ? "missing" : "a mapping is expected");
			return NULL;
		}
		return n;
	}
	xasprintf(l->cause, "kubeconfig %s: %s: no entry named \"%s\"", l->path, list, name);
	return NULL;
}

static char *
k8s_config_path(struct k8s_config_loader *l, const char *p)
{
	char *out;

	if (*p == '/' || l->dir == NULL)
		return xstrdup(p);
	xasprintf(&out, "%s/%s", l->dir, p);
	return out;
}

/*
 * field (a file) or field-data (base64), or neither; data wins as in
 * kubectl. The bytes into *out, or -1 naming the field.
 */
static int
k8s_config_blob(struct k8s_config_loader *l, yaml_node_t *map, const char *where, const char *field,
    unsigned char **out, size_t *outlen)
{
	const char *file, *data;
	char dkey[64], *path, *err = NULL;
	size_t bad, len;

	snprintf(dkey, sizeof dkey, "%s-data", field);
	if (k8s_config_scalar(l, map, field, where, &file) != 0 ||
	    k8s_config_scalar(l, map, dkey, where, &data) != 0)
		return -1;
	if (data != NULL) {
		if (k8s_config_base64(data, out, outlen, &bad) != 0) {
			xasprintf(l->cause, "kubeconfig %s: %s.%s: invalid base64 at byte %zu",
			    l->path, where, dkey, bad);
			return -1;
		}
		return 0;
	}
	if (file == NULL)
		return 0;
	if (l->flags & K8S_CONFIG_NO_FILES) {
		xasprintf(l->cause, "kubeconfig %s: %s.%s: files are not allowed here", l->path,
		    where, field);
		return -1;
	}
	path = k8s_config_path(l, file);
	*out = (unsigned char *)util_read_file(path, CONFIG_MAX_FILE, &len, &err);
	if (*out == NULL) {
		xasprintf(l->cause, "kubeconfig %s: %s.%s: %s", l->path, where, field, err);
		free(err);
		free(path);
		return -1;
	}
	if (len == 0) {
		xasprintf(l->cause, "kubeconfig %s: %s.%s: %s is empty", l->path, where, field, path);
		free(path);
		free(*out);
		*out = NULL;
		return -1;
	}
	free(path);
	*outlen = len;
	return 0;
}

/* A token read from a file, whitespace trimmed; NULL with *cause. */
static char *
k8s_config_read_token(const char *path, struct stat *st, char **cause)
{
	char *buf, *err = NULL, *s, *e;
	size_t len;

	if (stat(path, st) != 0) {
		xasprintf(cause, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = util_read_file(path, 64 * 1024, &len, &err)) == NULL) {
		xasprintf(cause, "token file: %s", err);
		free(err);
		return NULL;
	}
	for (s = buf; *s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'; s++)
		;
	for (e = buf + strlen(buf); e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' ||
	    e[-1] == '\t'); e--)
		;
	if (e == s) {
		xasprintf(cause, "token file %s is empty", path);
		free(buf);
		return NULL;
	}
	s = xstrndup(s, (size_t)(e - s));
	memset(buf, 0, len);
	free(buf);
	return s;
}

static int
k8s_config_token_load(struct k8s_config *c, char **cause)
{
	struct stat st;
	char *t;

	if ((t = k8s_config_read_token(c->token_file, &st, cause)) == NULL)
		return -1;
	if (c->token != NULL) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	c->token = t;
	c->token_dev = st.st_dev;
	c->token_ino = st.st_ino;
	c->token_size = st.st_size;
	c->token_mtime = st.st_mtim;
	c->checked_ms = util_mono_ms();
	return 0;
}

int
k8s_config_token(struct k8s_config *c, const char **token, char **cause)
{
	struct stat st;
	int64_t now;

	*token = c->token;
	if (c->token_file == NULL)
		return 0;
	now = util_mono_ms();
	if (c->token != NULL && c->checked_ms != 0 && now - c->checked_ms < c->recheck_ms)
		return 0;
	c->checked_ms = now;
	/* stat follows the ..data symlink a projected volume swaps. */
	if (c->token != NULL && stat(c->token_file, &st) == 0 && st.st_ino == c->token_ino &&
	    st.st_dev == c->token_dev && st.st_size == c->token_size &&
	    st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec)
		return 0;
	if (k8s_config_token_load(c, cause) != 0) {
		/* Keep sending the old token: the file may be mid-rotation. */
		if (c->token != NULL) {
			log_warn("cannot re-read the token file, keeping the previous token",
			    "error=%s", log_q(*cause));
			free(*cause);
			*cause = NULL;
			*token = c->token;
			return 0;
		}
		return -1;
	}
	log_debug("token file re-read", "file=%s", log_q(c->token_file));
	*token = c->token;
	return 0;
}

static int
k8s_config_set_server(struct k8s_config *c, struct k8s_config_loader *l, const char *where, const char *server,
    int insecure)
{
	size_t n;

	if (server == NULL) {
		xasprintf(l->cause, "kubeconfig %s: %s.server: missing", l->path, where);
		return -1;
	}
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
		xasprintf(l->cause, "kubeconfig %s: %s.server: \"%s\" is not an https:// URL",
		    l->path, where, server);
		return -1;
	}
	if (strncmp(server, "http://", 7) == 0 || insecure) {
		if (!(l->flags & K8S_CONFIG_ALLOW_INSECURE)) {
			xasprintf(l->cause, "kubeconfig %s: %s.%s: TLS verification is required "
			    "(insecure connections are refused unless explicitly allowed)", l->path,
			    where, insecure ? "insecure-skip-tls-verify" : "server");
			return -1;
		}
		log_warn("TLS verification of the Kubernetes API server is OFF (explicitly allowed)",
		    "server=%s", log_q(server));
		c->insecure = 1;
	}
	c->server = xstrdup(server);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	return 0;
}

static struct k8s_config *
k8s_config_from_doc(struct k8s_config_loader *l, const char *context)
{
	struct k8s_config *c = xcalloc(1, sizeof *c);
	yaml_node_t *root = yaml_document_get_root_node(&l->doc), *ctx, *cl, *user, *n;
	const char *cluster_name, *user_name, *ns, *server, *token, *token_file, *insecure_s;
	char where_c[512], where_u[512], where_x[512];
	int insecure = 0;

	c->recheck_ms = 1000;
	c->token_size = -1;
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		xasprintf(l->cause, "kubeconfig %s: not a YAML mapping", l->path);
		goto fail;
	}
	if (context == NULL) {
		if (k8s_config_scalar(l, root, "current-context", "kubeconfig", &context) != 0)
			goto fail;
		if (context == NULL) {
			xasprintf(l->cause, "kubeconfig %s: current-context: not set (and no context "
			    "was given)", l->path);
			goto fail;
		}
	}
	if ((ctx = k8s_config_named(l, "contexts", "context", context)) == NULL)
		goto fail;
	snprintf(where_x, sizeof where_x, "contexts[name=%s].context", context);
	if (k8s_config_scalar(l, ctx, "cluster", where_x, &cluster_name) != 0 ||
	    k8s_config_scalar(l, ctx, "user", where_x, &user_name) != 0 ||
	    k8s_config_scalar(l, ctx, "namespace", where_x, &ns) != 0)
		goto fail;
	if (cluster_name == NULL) {
		xasprintf(l->cause, "kubeconfig %s: %s.cluster: missing", l->path, where_x);
		goto fail;
	}
	if ((cl = k8s_config_named(l, "clusters", "cluster", cluster_name)) == NULL)
		goto fail;
	snprintf(where_c, sizeof where_c, "clusters[name=%s].cluster", cluster_name);
	if (k8s_config_scalar(l, cl, "server", where_c, &server) != 0 ||
	    k8s_config_scalar(l, cl, "insecure-skip-tls-verify", where_c, &insecure_s) != 0)
		goto fail;
	if (insecure_s != NULL && util_parse_bool(insecure_s, &insecure) != 0) {
		xasprintf(l->cause, "kubeconfig %s: %s.insecure-skip-tls-verify: \"%s\" is not a "
		    "boolean", l->path, where_c, insecure_s);
		goto fail;
	}
	if (k8s_config_set_server(c, l, where_c, server, insecure) != 0)
		goto fail;
	if (!c->insecure &&
	    k8s_config_blob(l, cl, where_c, "certificate-authority", &c->ca, &c->ca_len) != 0)
		goto fail;
	if (ns != NULL)
		c->namespace = xstrdup(ns);
	if (user_name != NULL) {
		if ((user = k8s_config_named(l, "users", "user", user_name)) == NULL)
			goto fail;
		snprintf(where_u, sizeof where_u, "users[name=%s].user", user_name);
		if ((n = k8s_config_yget(l, user, "exec")) != NULL ||
		    (n = k8s_config_yget(l, user, "auth-provider")) != NULL) {
			xasprintf(l->cause, "kubeconfig %s: %s.%s: credential plugins are not "
			    "supported (use a token, a token file or a client certificate)", l->path,
			    where_u, k8s_config_yget(l, user, "exec") != NULL ? "exec" : "auth-provider");
			goto fail;
		}
		if (k8s_config_scalar(l, user, "token", where_u, &token) != 0 ||
		    k8s_config_scalar(l, user, "tokenFile", where_u, &token_file) != 0)
			goto fail;
		if (k8s_config_blob(l, user, where_u, "client-certificate", &c->cert, &c->cert_len) != 0 ||
		    k8s_config_blob(l, user, where_u, "client-key", &c->key, &c->key_len) != 0)
			goto fail;
		if ((c->cert == NULL) != (c->key == NULL)) {
			xasprintf(l->cause, "kubeconfig %s: %s.%s: missing (a client certificate needs "
			    "its key)", l->path, where_u, c->cert == NULL ? "client-certificate" :
			    "client-key");
			goto fail;
		}
		if (token != NULL)
			c->token = xstrdup(token);
		else if (token_file != NULL) {
			char *err = NULL;
			if (l->flags & K8S_CONFIG_NO_FILES) {
				xasprintf(l->cause, "kubeconfig %s: %s.tokenFile: files are not allowed "
				    "here", l->path, where_u);
				goto fail;
			}
			c->token_file = k8s_config_path(l, token_file);
			if (k8s_config_token_load(c, &err) != 0) {
				xasprintf(l->cause, "kubeconfig %s: %s.tokenFile: %s", l->path, where_u,
				    err);
				free(err);
				goto fail;
			}
		}
	}
	xasprintf(&c->describe, "kubeconfig %s context %s", l->path, context);
	return c;
fail:
	k8s_config_free(c);
	return NULL;
}

struct k8s_config *
k8s_config_parse_kubeconfig(const char *text, size_t len, const char *path, const char *context,
    int flags, char **cause)
{
	struct k8s_config_loader l;
	struct k8s_config *c = NULL;
	yaml_parser_t parser;
	char *slash;

	memset(&l, 0, sizeof l);
	l.path = path != NULL ? path : "(memory)";
	l.flags = flags;
	l.cause = cause;
	if (path != NULL && (slash = strrchr(path, '/')) != NULL)
		l.dir = xstrndup(path, (size_t)(slash - path == 0 ? 1 : slash - path));
	if (!yaml_parser_initialize(&parser))
		fatalx("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &l.doc)) {
		xasprintf(cause, "kubeconfig %s: line %zu column %zu: %s", l.path,
		    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		free(l.dir);
		return NULL;
	}
	if (yaml_document_get_root_node(&l.doc) == NULL)
		xasprintf(cause, "kubeconfig %s: empty", l.path);
	else
		c = k8s_config_from_doc(&l, context);
	yaml_document_delete(&l.doc);
	yaml_parser_delete(&parser);
	free(l.dir);
	return c;
}

struct k8s_config *
k8s_config_load_kubeconfig(const char *path, const char *context, int flags, char **cause)
{
	struct k8s_config *c;
	char *text, *err = NULL;
	size_t len;

	if ((text = util_read_file(path, CONFIG_MAX_FILE, &len, &err)) == NULL) {
		xasprintf(cause, "kubeconfig: %s", err);
		free(err);
		return NULL;
	}
	c = k8s_config_parse_kubeconfig(text, len, path, context, flags, cause);
	free(text);
	return c;
}

struct k8s_config *
k8s_config_load_incluster(const char *dir, int flags, char **cause)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	struct k8s_config *c;
	char *path, *err = NULL, *ns;
	size_t len;

	if (dir == NULL)
		dir = K8S_INCLUSTER_DIR;
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
		xasprintf(cause, "in-cluster config: KUBERNETES_SERVICE_HOST and "
		    "KUBERNETES_SERVICE_PORT must be set (not running in a pod?)");
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->recheck_ms = 1000;
	c->token_size = -1;
	if (strchr(host, ':') != NULL)
		xasprintf(&c->server, "https://[%s]:%s", host, port);
	else
		xasprintf(&c->server, "https://%s:%s", host, port);
	xasprintf(&c->token_file, "%s/token", dir);
	if (k8s_config_token_load(c, &err) != 0) {
		xasprintf(cause, "in-cluster config: %s", err);
		goto fail;
	}
	xasprintf(&path, "%s/ca.crt", dir);
	c->ca = (unsigned char *)util_read_file(path, CONFIG_MAX_FILE, &c->ca_len, &err);
	free(path);
	if (c->ca == NULL) {
		xasprintf(cause, "in-cluster config: CA: %s", err);
		goto fail;
	}
	xasprintf(&path, "%s/namespace", dir);
	if ((ns = util_read_file(path, 4096, &len, NULL)) != NULL) {
		len = strlen(ns);
		while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == ' ' ||
		    ns[len - 1] == '\r' || ns[len - 1] == '\t'))
			ns[--len] = '\0';
		if (*ns != '\0')
			c->namespace = ns;
		else
			free(ns);
	}
	free(path);
	xasprintf(&c->describe, "in-cluster %s", dir);
	(void)flags;
	return c;
fail:
	free(err);
	k8s_config_free(c);
	return NULL;
}

struct k8s_config *
k8s_config_load(const char *path, const char *context, int flags, char **cause)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	struct k8s_config *c;
	char *p;

	if (path != NULL && *path != '\0')
		return k8s_config_load_kubeconfig(path, context, flags, cause);
	if (getenv("KUBERNETES_SERVICE_HOST") != NULL)
		return k8s_config_load_incluster(NULL, flags, cause);
	if (env != NULL && *env != '\0')
		p = xstrndup(env, strcspn(env, ":"));
	else
		xasprintf(&p, "%s/.kube/config", home != NULL ? home : "");
	c = k8s_config_load_kubeconfig(p, context, flags, cause);
	free(p);
	return c;
}
