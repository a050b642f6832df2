package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.proofs.crypto.KeyFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeysCommandTest {
  @TempDir Path dir;

  @Test
  void generate_newFile_writesKeyAndPrintsPublicHex() throws IOException {
    Path file = dir.resolve("writer.pem");
    Result r = run("keys", "generate", "--out", file.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.line().matches("[0-9a-f]{64}"), r.out());
    assertEquals(KeyFile.read(file).publicKey().toHex(), r.line());

    Result pub = run("keys", "public", "--in", file.toString());
    assertEquals(0, pub.exitCode(), pub.err());
    assertEquals(r.line(), pub.line());
  }

  @Test
  void generate_existingFile_exits2AndKeepsFile() throws IOException {
    Path file = dir.resolve("taken.pem");
    Files.writeString(file, "keep me");
    Result r = run("keys", "generate", "--out", file.toString());
    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("exists"), r.err());
    assertEquals("keep me", Files.readString(file));
  }

  @Test
  void generate_twice_secondExits2() {
    Path file = dir.resolve("once.pem");
    assertEquals(0, run("keys", "generate", "--out", file.toString()).exitCode());
    assertEquals(2, run("keys", "generate", "--out", file.toString()).exitCode());
  }

  @Test
  void public_missingOrMalformedFile_exits2() throws IOException {
    assertEquals(2, run("keys", "public", "--in", dir.resolve("absent.pem").toString()).exitCode());
    Path junk = dir.resolve("junk.pem");
    Files.writeString(junk, "not a key\n");
    Result r = run("keys", "public", "--in", junk.toString());
    assertEquals(2, r.exitCode());
    assertTrue(r.err().startsWith("error: "), r.err());
  }

  @Test
  void keys_missingOptions_exit2() {
    assertEquals(2, run("keys", "generate").exitCode());
    assertEquals(2, run("keys", "public").exitCode());
    assertEquals(2, run("keys").exitCode());
  }
}
