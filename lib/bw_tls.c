#include "bw_tls.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <time.h>

int64_t bw_tls_not_after_us(const SSL *ssl) {
  X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
  const ASN1_TIME *t = cert ? X509_get0_notAfter(cert) : NULL;
  struct tm tm;
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  time_t secs = timegm(&tm);
  if (secs == (time_t)-1)
    return 0;
  return (int64_t)secs * 1000000;
}
