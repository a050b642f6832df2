package dev.capsulevm.cli;

import dev.capsulevm.proto.tls.CertificatePin;
import dev.capsulevm.proto.tls.ChannelSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * How a command reaches the host (its Host or Admin port): plaintext unless one of {@code --tls-ca},
 * {@code --tls-pin} or {@code --tls} is given, or else the renter config makes the choice
 * ({@link RenterConfig}: {@code CAPSULEVM_TLS_CA}, {@code tls-ca=...}). Every command that reaches a host has
 * this once, so it carries {@code --config} too.
 */
final class ClientTlsArgs {
  @Mixin ConfigArgs configArgs;

  @ArgGroup(exclusive = true, multiplicity = "0..1")
  @Nullable Choice choice;

  static final class Choice {
    @Option(names = "--tls-ca", paramLabel = "FILE", description = "Use TLS; trust the host's certificate if it chains"
        + " to a PEM certificate in FILE (a CA's, or the host's self-signed cert.pem) and names the address dialled.")
    @Nullable Path ca;

    @Option(names = "--tls-pin", paramLabel = "SHA256", split = ",", converter = PinConverter.class,
        description = "Use TLS; accept only a host certificate with this SHA-256 fingerprint (comma-separated for several).")
    @Nullable List<CertificatePin> pins;

    @Option(names = "--tls", description = "Use TLS; trust the host's certificate if the JVM's trust store does.")
    boolean system;
  }

  /**
   * TLS as the options say, else as the renter config says, else plaintext; an unreadable CA file is an
   * {@link IOException} naming it.
   */
  ChannelSecurity security() throws IOException {
    Choice c = choice;
    if (c == null) {
      ChannelSecurity configured = RenterConfig.current().securityOrNull();
      return configured != null ? configured : ChannelSecurity.plaintext();
    }
    if (c.ca != null) {
      return ChannelSecurity.trustingCa(c.ca);
    }
    if (c.pins != null && !c.pins.isEmpty()) {
      return ChannelSecurity.pinning(c.pins);
    }
    return c.system ? ChannelSecurity.systemTrust() : ChannelSecurity.plaintext();
  }

  /** {@code --tls-pin}: 64 hex digits, colons and a {@code sha256:} prefix allowed. */
  static final class PinConverter implements CommandLine.ITypeConverter<CertificatePin> {
    @Override
    public CertificatePin convert(String text) {
      try {
        return CertificatePin.parse(text);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
