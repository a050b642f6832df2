package dev.capsulevm.cli;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenterStateTest {
  @Test
  void aHeadsLineWithoutItsSignatureFieldIsCorruptState(@TempDir Path root) throws Exception {
    SigningKey creator = SigningKey.generate();
    SigningKey writer = SigningKey.generate();
    SignedMetadata metadata = SignedMetadata.sign(Metadata.create(creator.publicKey(), 0,
        SigningPolicy.EVERY_RECORD, 16, 1024, Map.of(writer.publicKey(), Permissions.ADD), "corrupt"), creator);
    RenterState state = new RenterState(root);
    Path dir = state.capsuleDir(metadata.capsuleId());
    Files.createDirectories(dir);
    Files.write(dir.resolve("metadata"), metadata.encoded());
    KeyFile.write(writer, dir.resolve("writer.pem"));
    Files.writeString(dir.resolve("heads"), "00ff\n");
    IOException e = assertThrows(IOException.class, () -> state.load(metadata.capsuleId()));
    assertTrue(e.getMessage().contains("corrupt renter state"), e.getMessage());
  }
}
