/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/client: the JSON-over-HTTP client against a canned
 * server on 127.0.0.1 (one thread answering each connection with the next
 * response of a script), including answers a server should not send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/http_client.h"
#include "core/buf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct canned {
	int fd;
	int port;
	const char *response; /* the head and body sent to the next connection */
	size_t big;	      /* then this many bytes of spaces (a huge body) */
	char request[4096];   /* what the last request began with */
};

static void *serve_one(void *arg)
{
	struct canned *c = arg;
	int s = accept(c->fd, NULL, NULL);
	if (s < 0)
		return NULL;
	size_t n = 0;
	while (n < sizeof(c->request) - 1) { /* the head, and a short body if any */
		ssize_t k = read(s, c->request + n, sizeof(c->request) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		c->request[n] = 0;
		char *end = strstr(c->request, "\r\n\r\n");
		const char *cl = strstr(c->request, "Content-Length: ");
		if (end && (!cl || strlen(end + 4) >= (size_t)strtol(cl + 16, NULL, 10)))
			break;
	}
	ssize_t w = write(s, c->response, strlen(c->response));
	(void)w;
	static char spaces[1 << 16];
	memset(spaces, ' ', sizeof(spaces));
	for (size_t sent = 0; sent < c->big; sent += sizeof(spaces))
		if (write(s, spaces, sizeof(spaces)) < 0)
			break;
	close(s);
	return NULL;
}

static void canned_open(struct canned *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(c->fd, 4), 0);
	socklen_t len = sizeof(a);
	getsockname(c->fd, (struct sockaddr *)&a, &len);
	c->port = ntohs(a.sin_port);
}

/* One request to the canned server answering RESPONSE. */
static enum tr_err exchange(struct tr_client *cl, struct canned *c, const char *method,
			    json_t *body, long *status, json_t **out, struct tr_buf *err)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x?y=1", c->port);
	pthread_t t;
	pthread_create(&t, NULL, serve_one, c);
	enum tr_err rc = tr_client_request(cl, method, url, body, 10000, status, out, err);
	pthread_join(t, NULL);
	return rc;
}

static void json_answers_and_errors(void **state)
{
	struct canned c = {0};
	canned_open(&c);
	struct tr_client *cl = NULL;
	struct tr_buf err = TR_BUF_INIT;
	assert_int_equal(tr_client_new(&cl, &err), TR_OK);
	long status = 0;
	json_t *out = NULL;

	c.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
		     "Connection: close\r\n\r\n{\"run_id\": \"r1\"}";
	json_t *body = json_pack("{s:s}", "a", "b");
	assert_int_equal(exchange(cl, &c, "POST", body, &status, &out, &err), TR_OK);
	json_decref(body);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(out, "run_id")), "r1");
	assert_non_null(strstr(c.request, "POST /x?y=1 HTTP/1.1"));
	assert_non_null(strstr(c.request, "Content-Type: application/json"));
	assert_non_null(strstr(c.request, "{\"a\":\"b\"}"));
	json_decref(out);

	/* a POST without a body still says JSON, with an empty body */
	assert_int_equal(exchange(cl, &c, "POST", NULL, &status, &out, &err), TR_OK);
	assert_non_null(strstr(c.request, "Content-Length: 0"));
	assert_non_null(strstr(c.request, "Content-Type: application/json"));
	json_decref(out);

	/* an error answer: status and its JSON, not a transport error */
	c.response = "HTTP/1.1 404 Not Found\r\nContent-Length: 57\r\nConnection: close\r\n\r\n"
		     "{\"error_code\": \"RESOURCE_DOES_NOT_EXIST\", \"message\": \"x\"}";
	assert_int_equal(exchange(cl, &c, "GET", NULL, &status, &out, &err), TR_OK);
	assert_int_equal(status, 404);
	struct tr_buf text = TR_BUF_INIT;
	tr_client_error_text(status, out, &text);
	assert_string_equal(tr_buf_str(&text), "RESOURCE_DOES_NOT_EXIST: x");
	json_decref(out);
	tr_buf_reset(&text);
	tr_client_error_text(502, NULL, &text);
	assert_string_equal(tr_buf_str(&text), "HTTP 502");
	tr_buf_release(&text);

	/* a 2xx that is not JSON */
	c.response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n\x01{[\"x";
	assert_int_equal(exchange(cl, &c, "GET", NULL, &status, &out, &err), TR_ERR_BAD_REQUEST);
	assert_null(out);
	assert_non_null(strstr(tr_buf_str(&err), "not JSON"));

	/* a body past the limit, without a length: the transfer is cut */
	c.response = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
	c.big = TR_CLIENT_MAX_BODY + (1 << 20);
	tr_buf_reset(&err);
	assert_int_equal(exchange(cl, &c, "GET", NULL, &status, &out, &err), TR_ERR_TOO_LARGE);
	assert_null(out);
	c.big = 0;

	/* nobody listening */
	close(c.fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", c.port);
	tr_buf_reset(&err);
	assert_int_equal(tr_client_request(cl, "GET", url, NULL, 5000, &status, &out, &err),
			 TR_ERR_IO_ERROR);
	assert_true(err.len > 0);
	assert_null(out);

	tr_client_free(cl);
	tr_client_free(NULL);
	tr_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_answers_and_errors),
	};
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
