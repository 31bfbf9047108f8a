/* main: tallyd's entry point. Parses the command line and the config,
 * creates every handle (registry, flush with its sinks, intake listeners,
 * admin, HTTP), writes the port file, handles signals and runs the main
 * loop. SIGTERM/SIGINT stop intake, flush what was received and exit 0.
 * Holds no state of its own beyond what it passes around. */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "flush.h"
#include "http.h"
#include "intake.h"
#include "log.h"
#include "registry.h"
#include "rules.h"
#include "state.h"
#include "xalloc.h"

#define EXIT_CONFIG 1
#define EXIT_START 2

static void usage(FILE *out)
{
	fprintf(out, "usage: tallyd [-c FILE] [-o section.key=value ...] [-t] [-V] [-h]\n"
	             "  -c FILE   read the configuration from FILE (INI)\n"
	             "  -o S.K=V  override one key, e.g. -o server.flush_interval=2s (repeatable)\n"
	             "  -t        check the configuration, print it, and exit\n"
	             "  -V        print the version and exit\n"
	             "  -h        print this help and exit\n"
	             "See tallyd(8) and docs/configuration.md.\n");
}

static int write_port_file(const char *path, const struct intake *in, const struct admin *adm,
                           const struct http *http)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	intake_write_addresses(in, f);
	if (adm)
		fprintf(f, "admin %s\n", admin_address(adm));
	if (http)
		fprintf(f, "http %s\n", http_address(http));
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	log_info("main: signal=%d received, flushing and exiting", (int)sig);
	event_base_loopbreak(base);
}

/* The file first, then every -o in order, wherever they stood; then the
 * cross-key checks. NULL with err set. */
static struct config *load_config(const char *file, char *const *ov, size_t nov, char *err,
                                  size_t errlen)
{
	struct config *c = config_new();
	if (file && config_load_file(c, file, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < nov; i++)
		if (config_override(c, ov[i], err, errlen) < 0)
			goto fail;
	if (config_validate(c, err, errlen) < 0)
		goto fail;
	return c;
fail:
	config_free(c);
	return NULL;
}

/* What SIGHUP needs to read the configuration again. */
struct reload {
	const char *file;
	char **overrides;
	size_t noverrides;
	struct config *cfg;
	struct flush *flush;
};

/* SIGHUP: the [alert NAME] and [webhook NAME] sections are read again and
 * replace the running ones; every other key keeps its running value until
 * a restart. A file that does not load or check keeps the old rules. */
static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct reload *rl = arg;
	char err[1024];
	struct config *n = load_config(rl->file, rl->overrides, rl->noverrides, err, sizeof(err));
	if (!n) {
		log_error("main: SIGHUP: configuration not reloaded, keeping the running rules: %s",
		          err);
		return;
	}
	/* The engine compares the old rules with the new: swap, tell it, then
	 * free the old ones with n. */
	config_take_rules(rl->cfg, n);
	flush_rules_changed(rl->flush);
	log_info("main: SIGHUP: reloaded alerts=%zu webhooks=%zu (other keys need a restart)",
	         rl->cfg->rules->nalerts, rl->cfg->rules->nwebhooks);
	config_free(n);
}

int main(int argc, char **argv)
{
	char err[1024] = "";
	struct config *cfg = config_new();
	bool test_only = false;
	const char *file = NULL;
	char **overrides = xcalloc((size_t)argc, sizeof(char *));
	size_t noverrides = 0;
	int opt;

	while ((opt = getopt(argc, argv, "c:o:tVh")) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'V':
			printf("tallyd %s\n", PACKAGE_VERSION);
			config_free(cfg);
			free(overrides);
			return 0;
		case 'h':
			usage(stdout);
			config_free(cfg);
			free(overrides);
			return 0;
		default:
			usage(stderr);
			config_free(cfg);
			free(overrides);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tallyd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		config_free(cfg);
		free(overrides);
		return EXIT_CONFIG;
	}
	config_free(cfg);
	cfg = load_config(file, overrides, noverrides, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "tallyd: %s\n", err);
		free(overrides);
		return EXIT_CONFIG;
	}
	if (test_only) {
		config_dump(cfg, stdout);
		printf("# configuration ok\n");
		config_free(cfg);
		free(overrides);
		return 0;
	}
	log_level = cfg->log_level;
	signal(SIGPIPE, SIG_IGN);

	int rc = EXIT_START;
	struct event_base *base = NULL;
	struct registry *reg = NULL;
	struct flush *flush = NULL;
	struct intake *in = NULL;
	struct admin *adm = NULL;
	struct http *http = NULL;
	struct event *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;
	struct reload rl = {file, overrides, noverrides, cfg, NULL};

	if (evthread_use_pthreads() != 0 || !(base = event_base_new())) {
		fprintf(stderr, "tallyd: cannot initialise libevent\n");
		goto out;
	}
	reg = registry_new(cfg);
	/* server.state_file: the windows saved by the previous run (a bad file
	 * is moved aside and the server starts fresh) */
	if (cfg->state_file[0])
		state_load(reg, cfg->state_file);
	flush = flush_new(base, cfg, reg, err, sizeof(err));
	if (!flush) {
		fprintf(stderr, "tallyd: %s\n", err);
		goto out;
	}
	in = intake_new(cfg, base, flush_on_swapped, flush, err, sizeof(err));
	if (!in) {
		fprintf(stderr, "tallyd: %s\n", err);
		goto out;
	}
	flush_set_intake(flush, in);
	if (cfg->admin[0]) {
		adm = admin_new(base, cfg->admin, reg, cfg, (int64_t)time(NULL), err, sizeof(err));
		if (!adm) {
			fprintf(stderr, "tallyd: %s\n", err);
			goto out;
		}
	}
	if (cfg->http[0]) {
		http = http_new(base, cfg->http, adm, reg, cfg, err, sizeof(err));
		if (!http) {
			fprintf(stderr, "tallyd: %s\n", err);
			goto out;
		}
		http_set_alerts(http, flush_alerts(flush));
	}
	if (cfg->port_file[0] && write_port_file(cfg->port_file, in, adm, http) < 0) {
		fprintf(stderr, "tallyd: cannot write server.port_file %s: %s\n", cfg->port_file,
		        strerror(errno));
		goto out;
	}
	sig_term = evsignal_new(base, SIGTERM, stop_cb, base);
	sig_int = evsignal_new(base, SIGINT, stop_cb, base);
	rl.flush = flush;
	sig_hup = evsignal_new(base, SIGHUP, hup_cb, &rl);
	if (!sig_term || !sig_int || !sig_hup || evsignal_add(sig_term, NULL) < 0 ||
	    evsignal_add(sig_int, NULL) < 0 || evsignal_add(sig_hup, NULL) < 0) {
		fprintf(stderr, "tallyd: cannot install signal handlers\n");
		goto out;
	}
	if (intake_start(in) < 0 || flush_start(flush) < 0) {
		fprintf(stderr, "tallyd: cannot start\n");
		goto out;
	}
	log_info("main: tallyd %s started udp=%s tcp=%s graphite=%s flush_interval_ms=%lld",
	         PACKAGE_VERSION, cfg->udp[0] ? cfg->udp : "off", cfg->tcp[0] ? cfg->tcp : "off",
	         cfg->graphite_address[0] ? cfg->graphite_address : "off",
	         (long long)cfg->flush_interval_ms);

	event_base_dispatch(base);

	intake_stop(in);
	flush_final(flush, 5000);
	log_info("main: stopped");
	rc = 0;
out:
	if (sig_term)
		event_free(sig_term);
	if (sig_int)
		event_free(sig_int);
	if (sig_hup)
		event_free(sig_hup);
	http_free(http);
	admin_free(adm);
	intake_free(in);
	flush_free(flush);
	registry_free(reg);
	if (base)
		event_base_free(base);
	if (cfg->port_file[0] && rc == 0)
		unlink(cfg->port_file);
	config_free(cfg);
	free(overrides);
	return rc;
}
