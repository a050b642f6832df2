package dev.capsulevm.host.tls;

import dev.capsulevm.proto.tls.CertificatePin;
import dev.capsulevm.proto.tls.ChannelSecurity;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * What a host presents in TLS on every port it serves: a certificate chain (its own certificate first)
 * and the private key of that certificate, checked to belong together when made. Immutable.
 */
public final class TlsIdentity {
  private static final char[] NO_PASSWORD = new char[0];

  private final PrivateKey key;
  private final List<X509Certificate> chain;

  private TlsIdentity(PrivateKey key, List<X509Certificate> chain) {
    this.key = key;
    this.chain = chain;
  }

  /**
   * The identity of {@code key} and {@code chain} (the key's certificate first); refused with {@link
   * IllegalArgumentException} when the chain is empty or the key is not the first certificate's.
   */
  public static TlsIdentity of(PrivateKey key, List<X509Certificate> chain) {
    Objects.requireNonNull(key, "key");
    if (chain.isEmpty()) {
      throw new IllegalArgumentException("the certificate chain is empty");
    }
    checkPair(key, chain.get(0));
    return new TlsIdentity(key, List.copyOf(chain));
  }

  /**
   * Reads a PEM certificate chain (the host's certificate first, then any intermediates) and a PEM
   * private key (PKCS#8 {@code PRIVATE KEY}, or OpenSSL's {@code EC}/{@code RSA PRIVATE KEY}; not
   * encrypted). Each problem is an {@link IOException} naming the file and what is wrong with it.
   */
  public static TlsIdentity load(Path certificateFile, Path keyFile) throws IOException {
    List<X509Certificate> chain;
    try (InputStream in = Files.newInputStream(certificateFile)) {
      chain = ChannelSecurity.readCertificates(in);
    } catch (NoSuchFileException e) {
      throw new IOException(certificateFile + ": no such file (the TLS certificate)", e);
    } catch (CertificateException e) {
      throw new IOException(certificateFile + ": not a PEM certificate chain: " + e.getMessage(), e);
    }
    if (chain.isEmpty()) {
      throw new IOException(certificateFile + ": holds no PEM certificate");
    }
    PrivateKey key = readKey(keyFile);
    try {
      return of(key, chain);
    } catch (IllegalArgumentException e) {
      throw new IOException(keyFile + " and " + certificateFile + ": " + e.getMessage(), e);
    }
  }

  private static PrivateKey readKey(Path file) throws IOException {
    Object pem;
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser parser = new PEMParser(in)) {
      pem = parser.readObject();
    } catch (NoSuchFileException e) {
      throw new IOException(file + ": no such file (the TLS private key)", e);
    } catch (PEMException e) {
      throw new IOException(file + ": not a PEM private key: " + e.getMessage(), e);
    }
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    try {
      if (pem instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info);
      }
      if (pem instanceof PEMKeyPair pair) {
        return converter.getKeyPair(pair).getPrivate();
      }
    } catch (PEMException e) {
      throw new IOException(file + ": unsupported private key: " + e.getMessage(), e);
    }
    if (pem instanceof PKCS8EncryptedPrivateKeyInfo) {
      throw new IOException(file + ": the private key is encrypted; give the host an unencrypted key (mode 0600)");
    }
    throw new IOException(file + ": holds no PEM private key"
        + (pem == null ? "" : " (found " + pem.getClass().getSimpleName() + ")"));
  }

  /** Signs and verifies a test message: the only check of a pair that works for every key type. */
  private static void checkPair(PrivateKey key, X509Certificate certificate) {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> throw new IllegalArgumentException("unsupported private key type " + key.getAlgorithm()
          + " (EC, RSA or Ed25519)");
    };
    byte[] message = new byte[32];
    new SecureRandom().nextBytes(message);
    boolean matches;
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(message);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(message);
      matches = verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      matches = false;
    }
    if (!matches) {
      throw new IllegalArgumentException("the private key is not the key of the certificate "
          + certificate.getSubjectX500Principal().getName());
    }
  }

  /** The host's own certificate (the chain's first). */
  public X509Certificate certificate() {
    return chain.get(0);
  }

  public List<X509Certificate> chain() {
    return chain;
  }

  /** The pin of {@link #certificate()}: what a client gives as {@code --tls-pin}. */
  public CertificatePin pin() {
    return CertificatePin.of(certificate());
  }

  /** TLS credentials for gRPC's Netty server builder (no client certificates asked for). */
  public ServerCredentials serverCredentials() {
    return TlsServerCredentials.newBuilder().keyManager(keyManagers()).build();
  }

  /** A TLS context presenting this identity, for the metrics endpoint's HTTPS server. */
  public SSLContext sslContext() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keyManagers(), null, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make a TLS context: " + e.getMessage(), e);
    }
  }

  private KeyManager[] keyManagers() {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("host", key, NO_PASSWORD, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      factory.init(store, NO_PASSWORD);
      return factory.getKeyManagers();
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot make a key manager: " + e.getMessage(), e);
    }
  }

  /**
   * Writes the chain to {@code certificateFile} and the key (PKCS#8, unencrypted) to {@code keyFile},
   * which is made readable by its owner only; neither file may exist yet.
   */
  public void write(Path certificateFile, Path keyFile) throws IOException {
    try (Writer out = Files.newBufferedWriter(certificateFile, StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW);
        JcaPEMWriter pem = new JcaPEMWriter(out)) {
      for (X509Certificate c : chain) {
        pem.writeObject(c);
      }
    }
    try {
      Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(
          Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
    } catch (UnsupportedOperationException e) {
      Files.createFile(keyFile);
    }
    try (Writer out = Files.newBufferedWriter(keyFile, StandardCharsets.US_ASCII);
        JcaPEMWriter pem = new JcaPEMWriter(out)) {
      pem.writeObject(new JcaPKCS8Generator(key, null));
    }
  }

  /** The subject and the pin; never the key. */
  @Override
  public String toString() {
    return "TLS certificate " + certificate().getSubjectX500Principal().getName() + " (SHA-256 " + pin() + ")";
  }
}
