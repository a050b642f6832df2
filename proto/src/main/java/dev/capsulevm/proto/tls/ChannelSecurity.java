package dev.capsulevm.proto.tls;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.jspecify.annotations.Nullable;

/**
 * How a client reaches a host's gRPC port: in plaintext (the default, for a host on loopback), or over
 * TLS, verifying the host's certificate one of three ways:
 *
 * <ul>
 *   <li>{@link #trustingCa(Path)}: the certificate chains to a certificate in a PEM file (a CA's, or the
 *       host's own self-signed one) and names the address dialled (a DNS or IP subject alternative name);
 *   <li>{@link #systemTrust()}: likewise, against the JVM's default trust store (public CAs);
 *   <li>{@link #pinning(Collection)}: the host's certificate is one of these (by SHA-256 fingerprint),
 *       whoever issued it and whatever names it holds.
 * </ul>
 *
 * Immutable. {@link #credentials()} gives what gRPC's channel builders take.
 */
public final class ChannelSecurity {
  private static final ChannelSecurity PLAINTEXT = new ChannelSecurity("plaintext", null, List.of());
  private static final ChannelSecurity SYSTEM = new ChannelSecurity("TLS (the JVM's trust store)", null, List.of());

  private final String description;
  /** The trusted certificates of a CA file; null when not trusting a file. */
  private final @Nullable List<X509Certificate> anchorsOrNull;
  private final List<CertificatePin> pins;

  private ChannelSecurity(String description, @Nullable List<X509Certificate> anchorsOrNull,
      List<CertificatePin> pins) {
    this.description = description;
    this.anchorsOrNull = anchorsOrNull;
    this.pins = pins;
  }

  /** No TLS: for hosts on loopback (the default everywhere). */
  public static ChannelSecurity plaintext() {
    return PLAINTEXT;
  }

  /** TLS, the host's certificate verified against the JVM's default trust store and the address dialled. */
  public static ChannelSecurity systemTrust() {
    return SYSTEM;
  }

  /**
   * TLS, the host's certificate verified against the certificates in {@code pemFile} (one or more PEM
   * {@code CERTIFICATE} blocks) and the address dialled. The file is read now: a missing, unreadable or
   * certificate-less file is an {@link IOException} naming it.
   */
  public static ChannelSecurity trustingCa(Path pemFile) throws IOException {
    List<X509Certificate> certificates;
    try (InputStream in = Files.newInputStream(pemFile)) {
      certificates = readCertificates(in);
    } catch (NoSuchFileException e) {
      throw new IOException(pemFile + ": no such file (the TLS CA file)", e);
    } catch (CertificateException e) {
      throw new IOException(pemFile + ": not a PEM certificate file: " + e.getMessage(), e);
    }
    if (certificates.isEmpty()) {
      throw new IOException(pemFile + ": holds no PEM certificate");
    }
    return new ChannelSecurity("TLS (CA file " + pemFile + ")", List.copyOf(certificates), List.of());
  }

  /** TLS, the host's certificate verified against {@code anchors} and the address dialled. */
  public static ChannelSecurity trusting(List<X509Certificate> anchors) {
    if (anchors.isEmpty()) {
      throw new IllegalArgumentException("no trusted certificate");
    }
    return new ChannelSecurity("TLS (" + anchors.size() + " trusted certificates)", List.copyOf(anchors), List.of());
  }

  /** TLS, accepting exactly the host certificates pinned here (any of them), nothing else checked. */
  public static ChannelSecurity pinning(Collection<CertificatePin> pins) {
    if (pins.isEmpty()) {
      throw new IllegalArgumentException("no certificate pin");
    }
    List<CertificatePin> list = List.copyOf(Set.copyOf(pins));
    return new ChannelSecurity("TLS (pinned " + list.stream().map(CertificatePin::toString)
        .collect(Collectors.joining(", ")) + ")", null, list);
  }

  /** Every X.509 certificate in a PEM (or DER) stream, in order. */
  public static List<X509Certificate> readCertificates(InputStream in) throws CertificateException {
    List<X509Certificate> out = new ArrayList<>();
    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
      out.add((X509Certificate) c);
    }
    return out;
  }

  public boolean isTls() {
    return this != PLAINTEXT;
  }

  /** The pins of a pinning client; empty otherwise. */
  public List<CertificatePin> pins() {
    return pins;
  }

  /** What gRPC's channel builders take ({@code NettyChannelBuilder.forTarget(target, credentials)}). */
  public ChannelCredentials credentials() {
    if (this == PLAINTEXT) {
      return InsecureChannelCredentials.create();
    }
    if (this == SYSTEM) {
      return TlsChannelCredentials.create();
    }
    TrustManager trust = anchorsOrNull != null ? anchorTrust(anchorsOrNull) : new PinnedTrust(pins);
    return TlsChannelCredentials.newBuilder().trustManager(trust).build();
  }

  private static TrustManager anchorTrust(List<X509Certificate> anchors) {
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < anchors.size(); i++) {
        store.setCertificateEntry("trusted-" + i, anchors.get(i));
      }
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      // The JDK's PKIX trust manager: with gRPC's endpoint identification it also checks the host name.
      return factory.getTrustManagers()[0];
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot make a trust manager from the CA certificates: " + e.getMessage(), e);
    }
  }

  /**
   * Why a call failed in the TLS handshake, in one line, when it did ({@code t} a gRPC status exception
   * or any of its causes): the certificate check that failed (such as "... matches no pinned
   * certificate", "PKIX path building failed: ... unable to find valid certification path to requested
   * target", "No subject alternative names matching IP address ... found"), or that the other side
   * does not speak TLS. Null when no TLS failure is in the chain.
   */
  public static @Nullable String handshakeFailure(Throwable t) {
    Throwable ssl = null;
    for (Throwable c = t; c != null && ssl == null; c = c.getCause()) {
      if (c instanceof SSLException) {
        ssl = c;
      }
    }
    if (ssl == null) {
      return null;
    }
    String own = String.valueOf(ssl.getMessage());
    if (own.startsWith("not an SSL/TLS record")) { // Netty's NotSslRecordException: a plaintext server
      return "TLS handshake failed: the other side does not speak TLS (a plaintext port?)";
    }
    String reason = null;
    for (Throwable c = ssl.getCause(); c != null && reason == null; c = c.getCause()) {
      if (c instanceof CertificateException && c.getMessage() != null) {
        reason = c.getMessage();
      }
    }
    if (reason == null) {
      reason = own;
      for (Throwable c = ssl.getCause(); c != null; c = c.getCause()) {
        if (c.getMessage() != null && !c.getMessage().isBlank()) {
          reason = c.getMessage();
        }
      }
    }
    return "TLS handshake failed: " + reason.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /** "plaintext", "TLS (CA file ca.pem)", "TLS (pinned ...)" or "TLS (the JVM's trust store)". */
  @Override
  public String toString() {
    return description;
  }

  /** Accepts a server certificate by its fingerprint alone; never trusts a client (it is only on clients). */
  private static final class PinnedTrust extends X509ExtendedTrustManager {
    private final List<CertificatePin> pins;

    PinnedTrust(List<CertificatePin> pins) {
      this.pins = Objects.requireNonNull(pins);
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      if (chain.length == 0) {
        throw new CertificateException("the host sent no certificate");
      }
      CertificatePin presented = CertificatePin.of(chain[0]);
      if (!pins.contains(presented)) {
        throw new CertificateException("the host's certificate (SHA-256 " + presented
            + ") matches no pinned certificate");
      }
      chain[0].checkValidity();
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, @Nullable Socket socket)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, @Nullable SSLEngine engine)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      throw new CertificateException("a pinning client trust manager checks no clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, @Nullable Socket socket)
        throws CertificateException {
      throw new CertificateException("a pinning client trust manager checks no clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, @Nullable SSLEngine engine)
        throws CertificateException {
      throw new CertificateException("a pinning client trust manager checks no clients");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
