package dev.capsulevm.host.tls;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A self-signed certificate for a test network: a new P-256 key, the certificate naming each of the
 * host's names (DNS names and IP addresses, as subject alternative names, which clients check against
 * the address they dial), usable for TLS servers and clients. A client that takes the certificate as
 * its CA file trusts exactly this host (or every host given this same pair).
 */
public final class SelfSignedCertificate {
  /** The names of a host reached on loopback. */
  public static final List<String> LOOPBACK_NAMES = List.of("localhost", "127.0.0.1", "::1");

  private static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
  private static final Pattern DNS = Pattern.compile("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
      + "(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*");
  /** Tolerates clients whose clocks are a little behind the one that made the certificate. */
  private static final Duration BACKDATE = Duration.ofHours(1);

  private SelfSignedCertificate() {}

  /**
   * A new key and a certificate for {@code names} (DNS names, IPv4 or IPv6 addresses; the first is
   * also the subject's common name), valid from an hour before {@code clock}'s now for {@code validity}.
   * A name that is neither is {@link IllegalArgumentException} naming it.
   */
  public static TlsIdentity generate(List<String> names, Duration validity, Clock clock) {
    if (names.isEmpty()) {
      throw new IllegalArgumentException("a certificate needs at least one host name");
    }
    if (validity.isNegative() || validity.isZero()) {
      throw new IllegalArgumentException("the validity must be positive, got " + validity);
    }
    List<GeneralName> alternatives = new ArrayList<>();
    for (String name : names) {
      alternatives.add(generalName(name));
    }
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      KeyPair pair = generator.generateKeyPair();
      BigInteger serial = new BigInteger(127, new SecureRandom()).add(BigInteger.ONE);
      // A subject of its own (the serial in it), so that trust stores and path builders holding several
      // such certificates never take one for the issuer of another.
      X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, names.get(0))
          .addRDN(BCStyle.OU, "self-signed " + serial.toString(16)).addRDN(BCStyle.O, "capsulevm test network")
          .build();
      Instant now = clock.instant();
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
          Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)), subject, pair.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.extendedKeyUsage, false,
              new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
          .addExtension(Extension.subjectAlternativeName, false,
              new GeneralNames(alternatives.toArray(new GeneralName[0])))
          .addExtension(Extension.subjectKeyIdentifier, false,
              extensions.createSubjectKeyIdentifier(pair.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false,
              extensions.createAuthorityKeyIdentifier(pair.getPublic()));
      X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(
          builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
      return TlsIdentity.of(pair.getPrivate(), List.of(certificate));
    } catch (GeneralSecurityException | OperatorCreationException | CertIOException e) {
      throw new IllegalStateException("cannot make a self-signed certificate: " + e.getMessage(), e);
    }
  }

  private static GeneralName generalName(String name) {
    String n = name.strip();
    if (n.matches("[0-9.]+") || n.contains(":")) {
      if (!n.contains(":") && !IPV4.matcher(n).matches()) {
        throw new IllegalArgumentException("not an IP address: '" + name + "'");
      }
      try {
        return new GeneralName(GeneralName.iPAddress, n);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("not an IP address: '" + name + "'", e);
      }
    }
    if (!DNS.matcher(n).matches() || n.length() > 253) {
      throw new IllegalArgumentException("not a host name or IP address: '" + name + "'");
    }
    return new GeneralName(GeneralName.dNSName, n);
  }
}
