/*
 * fuzz-k8s-kubeconfig.c: kubeconfig parsing (libyaml's loader and our
 * walk of it) on any bytes, with file references refused and insecure
 * clusters allowed: either a config with a server URL, or an error
 * that names the kubeconfig. Nothing may crash, leak or read out of
 * bounds; the context is the current one, or "a" when the first byte is
 * odd.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_config *c;
	const char *token;
	char *cause = NULL;

	log_set_level(LOG_LEVEL_ERROR);
	c = k8s_config_parse_kubeconfig((const char *)data, size, "/fuzz/kubeconfig",
	    size > 0 && (data[0] & 1) ? "a" : NULL,
	    K8S_CONFIG_NO_FILES | K8S_CONFIG_ALLOW_INSECURE, &cause);
	if (c != NULL) {
		assert(cause == NULL);
		assert(strncmp(k8s_config_server(c), "http", 4) == 0);
		assert(k8s_config_namespace(c) != NULL);
		assert(k8s_config_token(c, &token, &cause) == 0);
		k8s_config_free(c);
	} else {
		assert(cause != NULL && strstr(cause, "/fuzz/kubeconfig") != NULL);
		free(cause);
	}
	return 0;
}
