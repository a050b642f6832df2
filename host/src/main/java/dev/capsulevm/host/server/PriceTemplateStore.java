package dev.capsulevm.host.server;

import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.proofs.VerificationException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.jspecify.annotations.Nullable;

/** The operator's last prices and limits ({@code prices.bin}: a price table body), so SetPrices survives restarts. */
final class PriceTemplateStore {
  static final String FILE = "prices.bin";
  private final Path file;

  PriceTemplateStore(Path dataDirectory) {
    this.file = dataDirectory.resolve(FILE);
  }

  /** The saved table, or null when none was saved. */
  @Nullable PriceTable loadOrNull() throws IOException {
    if (!Files.exists(file)) {
      return null;
    }
    try {
      return PriceTable.parseBody(Files.readAllBytes(file));
    } catch (VerificationException e) {
      throw new IOException(file + " is not a price table body: " + e.getMessage(), e);
    }
  }

  void save(PriceTable table) throws IOException {
    Path tmp = file.resolveSibling(FILE + ".tmp");
    Files.write(tmp, table.body());
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
  }
}
