package dev.capsulevm.renter.access;

import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An opened access string: the capsule's signed metadata, verified against the string, and the host
 * that served it.
 *
 * @param access the string opened
 * @param host the first of its hosts that served the metadata
 * @param metadata the capsule's signed metadata: it hashes to the string's capsule id, is signed by its
 *     creator, and that creator is the string's
 */
public record CapsuleAccess(AccessString access, String host, SignedMetadata metadata) {
  /** Makes a client of one host; {@link #fetch} closes it. */
  @FunctionalInterface
  public interface Connector {
    HostClient connect(String host) throws RenterException;
  }

  public CapsuleAccess {
    Objects.requireNonNull(access, "access");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(metadata, "metadata");
  }

  /**
   * Fetches the capsule's metadata from the string's hosts in order ({@link HostClient#metadata}: it
   * must hash to the id) until one serves it, and checks it against the string ({@link AccessString#check}).
   *
   * <p>A creator other than the string's ends the search at once: the metadata hashes to the id, so
   * every honest host serves the same, and the string is what is wrong.
   *
   * @throws AccessException when the metadata names another creator
   * @throws RenterException when no host served it: the one host's own failure, or one naming each
   *     host's failure when there were several
   */
  public static CapsuleAccess fetch(AccessString access, Connector connector) throws AccessException, RenterException {
    List<String> failures = new ArrayList<>();
    RenterException last = null;
    for (String host : access.hosts()) {
      SignedMetadata metadata;
      try (HostClient client = connector.connect(host)) {
        metadata = client.metadata(access.capsuleId());
      } catch (RenterException e) {
        failures.add(host + ": " + e.getMessage());
        last = e;
        continue;
      }
      access.check(metadata);
      return new CapsuleAccess(access, host, metadata);
    }
    if (failures.size() == 1 && last != null) {
      throw last;
    }
    throw new RenterException("no host of the access string served capsule " + access.capsuleId().toHex() + ": "
        + String.join("; ", failures), last);
  }
}
