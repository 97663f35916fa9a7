#include "bw_url.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

#define MASK "***"

/*
 * Only for what libcurl cannot parse, so that a password in it is masked rather than passed
 * through: the userinfo of url, after "://" up to the last '@' before the path; NULL when none.
 */
static const char *userinfo(const char *url, size_t *ret_len) {
  const char *p = strstr(url, "://");
  if (!p)
    return NULL;
  p += 3;
  size_t authority = strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < p + authority; q++)
    if (*q == '@')
      at = q;
  if (!at)
    return NULL;
  *ret_len = (size_t)(at - p);
  return p;
}

/* Without libcurl's help: keep "scheme://user:", mask up to the '@'. */
static char *redact_by_hand(const char *url) {
  size_t len;
  const char *info = userinfo(url, &len);
  const char *colon = info ? memchr(info, ':', len) : NULL;
  if (!colon)
    return bw_xstrdup(url);
  return bw_xasprintf("%.*s" MASK "%s", (int)(colon + 1 - url), url, info + len);
}

char *bw_url_redact(const char *url) {
  char *out = NULL, *password = NULL, *whole = NULL;
  CURLU *u = curl_url();
  if (!u)
    abort();
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    CURLUcode rc = curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
    if (rc == CURLUE_NO_PASSWORD)
      out = bw_xstrdup(url); /* the common case: nothing to hide, nothing rewritten */
    else if (rc == CURLUE_OK && curl_url_set(u, CURLUPART_PASSWORD, MASK, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_URL, &whole, 0) == CURLUE_OK)
      out = bw_xstrdup(whole);
  }
  if (!out)
    out = redact_by_hand(url);
  curl_free(whole);
  if (password) {
    explicit_bzero(password, strlen(password));
    curl_free(password);
  }
  curl_url_cleanup(u);
  return out;
}

char *bw_url_redact_in(const char *text, const char *url) {
  size_t n = strlen(url);
  const char *hit = n ? strstr(text, url) : NULL;
  if (!hit)
    return bw_xstrdup(text);
  char *safe = bw_url_redact(url);
  struct bw_buf b = {0};
  const char *p = text;
  for (; hit; hit = strstr(p, url)) {
    bw_buf_add(&b, p, (size_t)(hit - p));
    bw_buf_add(&b, safe, strlen(safe));
    p = hit + n;
  }
  bw_buf_add(&b, p, strlen(p));
  free(safe);
  return bw_buf_take(&b);
}

char *bw_url_server(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *ret;
  if (!u)
    abort();
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
    ret = bw_xstrdup(url);
  else
    ret = bw_xasprintf("%s:%s", host, port);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return ret;
}

int bw_url_parts(const char *url, char **ret_host, int *ret_port, char **ret_path) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
  int r = -EINVAL;
  if (!u)
    abort();
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
      query = NULL;
    *ret_host = bw_xstrdup(host);
    *ret_port = atoi(port);
    *ret_path = query ? bw_xasprintf("%s?%s", path, query) : bw_xstrdup(path);
    r = 0;
  }
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  curl_url_cleanup(u);
  return r;
}
