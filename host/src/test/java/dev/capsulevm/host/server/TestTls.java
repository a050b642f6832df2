package dev.capsulevm.host.server;

import dev.capsulevm.host.tls.SelfSignedCertificate;
import dev.capsulevm.host.tls.TlsIdentity;
import dev.capsulevm.proto.tls.ChannelSecurity;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/** TLS for tests: self-signed identities for loopback, hosts that present them, clients that trust them. */
public final class TestTls {
  private TestTls() {}

  /** A new self-signed identity naming localhost, 127.0.0.1 and ::1, valid for a day. */
  public static TlsIdentity loopbackIdentity() {
    return SelfSignedCertificate.generate(SelfSignedCertificate.LOOPBACK_NAMES, Duration.ofDays(1), Clock.systemUTC());
  }

  /** {@link TestHost#config(Path)} serving TLS with {@code identity} on every port. */
  public static HostConfig config(Path dir, TlsIdentity identity) {
    return TestHost.config(dir).withTls(identity);
  }

  /** A client that takes {@code identity}'s certificate as its CA. */
  public static ChannelSecurity trusting(TlsIdentity identity) {
    return ChannelSecurity.trusting(List.of(identity.certificate()));
  }

  /** A channel to {@code target} with {@code security}. */
  public static ManagedChannel channel(String target, ChannelSecurity security) {
    return NettyChannelBuilder.forTarget(target, security.credentials()).build();
  }
}
