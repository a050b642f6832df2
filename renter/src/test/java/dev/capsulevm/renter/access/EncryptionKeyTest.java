package dev.capsulevm.renter.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EncryptionKeyTest {
  @TempDir Path dir;

  /** The PKCS#8 bytes openssl writes for an X25519 key: the RFC 8410 prefix, then the 32 private bytes. */
  @Test
  void thePemHoldsTheOpensslPkcs8Form() {
    byte[] secret = new byte[32];
    java.util.Arrays.fill(secret, (byte) 3);
    String pem = EncryptionKey.fromPrivateBytes(secret).toPem();
    assertTrue(pem.startsWith("-----BEGIN PRIVATE KEY-----"), pem);
    String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    assertEquals("302e020100300506032b656e04220420" + "03".repeat(32),
        HexFormat.of().formatHex(Base64.getDecoder().decode(base64)));
  }

  @Test
  void aKeyFileIsPrivateNeverOverwrittenAndReadsBack() throws Exception {
    EncryptionKey key = EncryptionKey.generate();
    Path file = dir.resolve("encryption.key");
    key.write(file);
    if (file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }
    assertArrayEquals(key.publicKey(), EncryptionKey.read(file).publicKey());
    assertThrows(FileAlreadyExistsException.class, () -> EncryptionKey.generate().write(file));
    assertArrayEquals(key.publicKey(), EncryptionKey.read(file).publicKey());
    assertTrue(key.toString().endsWith("private=<redacted>]"), key.toString());
  }

  @Test
  void anEd25519KeyFileIsNotAnEncryptionKey() throws Exception {
    Path file = dir.resolve("account.pem");
    KeyFile.write(SigningKey.generate(), file);
    assertTrue(assertThrows(java.io.IOException.class, () -> EncryptionKey.read(file)).getMessage()
        .contains("not an X25519 key"));
    assertThrows(IllegalArgumentException.class, () -> EncryptionKey.fromPem("hello"));
  }
}
