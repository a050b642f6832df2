/**
 * The host's TLS identity: {@link dev.capsulevm.host.tls.TlsIdentity} (a PEM certificate chain and its
 * private key, loaded, checked to match, and turned into gRPC server credentials and an {@code
 * SSLContext} for the metrics endpoint) and {@link dev.capsulevm.host.tls.SelfSignedCertificate} (a
 * pair for a test network, which clients also take as their CA file).
 */
@NullMarked
package dev.capsulevm.host.tls;

import org.jspecify.annotations.NullMarked;
