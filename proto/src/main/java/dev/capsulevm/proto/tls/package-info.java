/**
 * Transport security of capsulevm's gRPC ports, from the client's side: {@link
 * dev.capsulevm.proto.tls.ChannelSecurity} says how a renter, an operator or a sync peer reaches a host
 * (plaintext, or TLS verifying the host's certificate against a CA file, the JVM's trust store or a
 * {@link dev.capsulevm.proto.tls.CertificatePin}).
 */
@NullMarked
package dev.capsulevm.proto.tls;

import org.jspecify.annotations.NullMarked;
