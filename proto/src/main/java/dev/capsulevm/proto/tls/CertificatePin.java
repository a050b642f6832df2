package dev.capsulevm.proto.tls;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A certificate a client accepts by its SHA-256 fingerprint: the digest of the certificate's DER
 * encoding, as {@code openssl x509 -noout -fingerprint -sha256} prints it. Written as 64 hex digits,
 * either case, with or without colons between bytes and an optional {@code sha256:} prefix;
 * {@link #toString()} gives the canonical form, 64 lowercase hex digits.
 */
public final class CertificatePin {
  private static final int LENGTH = 32;
  private final String hex;

  private CertificatePin(String hex) {
    this.hex = hex;
  }

  /** The pin written in {@code text}; a malformed one is {@link IllegalArgumentException} naming it. */
  public static CertificatePin parse(String text) {
    String s = text.strip();
    if (s.regionMatches(true, 0, "sha256:", 0, 7)) {
      s = s.substring(7);
    }
    s = s.replace(":", "").toLowerCase(Locale.ROOT);
    if (s.length() != 2 * LENGTH || !s.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
      throw new IllegalArgumentException("not a certificate pin (the SHA-256 of the certificate, 64 hex digits): '"
          + text + "'");
    }
    return new CertificatePin(s);
  }

  /** The pin of {@code certificate}. */
  public static CertificatePin of(X509Certificate certificate) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
      return new CertificatePin(HexFormat.of().formatHex(digest));
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("the certificate has no DER encoding: " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  public boolean matches(X509Certificate certificate) {
    return equals(of(certificate));
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof CertificatePin p && p.hex.equals(hex);
  }

  @Override
  public int hashCode() {
    return hex.hashCode();
  }

  /** 64 lowercase hex digits. */
  @Override
  public String toString() {
    return hex;
  }
}
