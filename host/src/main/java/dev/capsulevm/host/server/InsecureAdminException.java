package dev.capsulevm.host.server;

import java.io.IOException;

/**
 * The Admin service was configured on a non-loopback address without TLS: its bearer token would cross
 * the network in the clear. Thrown before anything is opened or changed.
 */
public final class InsecureAdminException extends IOException {
  private static final long serialVersionUID = 1L;

  public InsecureAdminException(String adminAddress) {
    super("the admin service may listen on " + adminAddress + " (not loopback) only with TLS:"
        + " give the host --tls-cert and --tls-key, or keep --admin-address on 127.0.0.1");
  }
}
