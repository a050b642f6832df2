package dev.capsulevm.host.server;

import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.proofs.VerificationException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's last prices and limits ({@code prices.bin}: a price table body), so SetPrices survives
 * restarts. A version 1 body (saved by a host from before METADATA prices) is converted on load: METADATA
 * gets HEADS's prices, everything else is kept, and the log says so; the file is rewritten at the next
 * SetPrices.
 */
final class PriceTemplateStore {
  static final String FILE = "prices.bin";
  private static final Logger log = LoggerFactory.getLogger(PriceTemplateStore.class);
  /** A version 1 body lacks METADATA's base and per-byte price: 16 bytes. */
  static final int OLD_BODY_LENGTH = PriceTable.BODY_LENGTH - 16;
  /**
   * Where HEADS's prices end in a body of either version: version (1), host key (32), window (8 + 8), the
   * program's prices (8 + 8), then base and per-byte price (16) of each instruction in code order, HEADS
   * (code 7) last in version 1; version 2 adds METADATA (code 8) right there.
   */
  private static final int HEADS_PRICES_END = 1 + 32 + 8 + 8 + 8 + 8 + 7 * 16;

  private final Path file;

  PriceTemplateStore(Path dataDirectory) {
    this.file = dataDirectory.resolve(FILE);
  }

  /** The saved table, or null when none was saved. */
  @Nullable PriceTable loadOrNull() throws IOException {
    if (!Files.exists(file)) {
      return null;
    }
    byte[] body = Files.readAllBytes(file);
    if (body.length == OLD_BODY_LENGTH && body[0] == 1) {
      log.warn("{} holds version 1 prices (saved by an older host): kept, with METADATA priced like HEADS;"
          + " set prices again to change that", file);
      body = fromVersion1(body);
    }
    try {
      return PriceTable.parseBody(body);
    } catch (VerificationException e) {
      throw new IOException(file + " is not a price table body: " + e.getMessage(), e);
    }
  }

  /** A version 2 body with {@code old}'s fields and HEADS's prices for METADATA. */
  static byte[] fromVersion1(byte[] old) {
    byte[] body = new byte[PriceTable.BODY_LENGTH];
    body[0] = 2;
    System.arraycopy(old, 1, body, 1, HEADS_PRICES_END - 1);
    System.arraycopy(old, HEADS_PRICES_END - 16, body, HEADS_PRICES_END, 16);
    System.arraycopy(old, HEADS_PRICES_END, body, HEADS_PRICES_END + 16, old.length - HEADS_PRICES_END);
    return body;
  }

  void save(PriceTable table) throws IOException {
    Path tmp = file.resolveSibling(FILE + ".tmp");
    DataDirectory.writePrivate(tmp, table.body());
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
  }
}
