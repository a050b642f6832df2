package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.RenterOptions;
import dev.capsulevm.renter.evidence.Evidence;
import dev.capsulevm.renter.evidence.EvidenceException;
import dev.capsulevm.renter.evidence.EvidenceVerifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that shows two readers two branches of one capsule: two host processes sharing one host key
 * (one host, as far as anyone can tell), each holding another branch. A reader who saw one branch and
 * then asks for the heads again gets the other: the CLI stops with exit 7 and writes evidence, which
 * {@code evidence verify} accepts offline, and which no longer verifies once any bit of it is changed.
 */
class EquivocationTest {
  @Test
  void aHostShowingTwoBranchesLeavesEvidenceThatVerifiesOffline(@TempDir Path dir) throws Exception {
    SigningKey hostKey = SigningKey.generate();
    for (String name : List.of("a", "b")) {
      Files.createDirectories(dir.resolve(name));
      KeyFile.write(hostKey, dir.resolve(name).resolve(HostServer.HOST_KEY_FILE));
    }
    try (HostServer a = HostServer.start(TestHost.config(dir.resolve("a")));
        HostServer b = HostServer.start(TestHost.config(dir.resolve("b")))) {
      String capsule = twoBranches(a, b);

      // A reader that saw branch A (height 2) is then shown branch B (height 1 only): a rollback.
      Path first = reader(dir.resolve("reader-1"), a, b);
      Result sawA = heads(first, a, capsule);
      assertEquals(0, sawA.exitCode(), sawA.err());
      Result shownB = heads(first, b, capsule);
      assertEquals(CapsuleCommand.EXIT_ROLLBACK, shownB.exitCode(), shownB.out() + shownB.err());
      Path rollback = onlyEvidence(first);
      Result verified = run("evidence", "verify", rollback.toString(), "--capsule", capsule);
      assertEquals(0, verified.exitCode(), verified.out() + verified.err());
      assertTrue(verified.out().startsWith("PROVEN  ROLLBACK"), verified.out());
      assertTrue(verified.out().contains(hostKey.publicKey().toString()), verified.out());

      // A reader that saw branch B (record b1) is then shown branch A, whose host denies holding b1.
      Path second = reader(dir.resolve("reader-2"), a, b);
      assertEquals(0, heads(second, b, capsule).exitCode());
      Result shownA = heads(second, a, capsule);
      assertEquals(CapsuleCommand.EXIT_ROLLBACK, shownA.exitCode(), shownA.out() + shownA.err());
      Path denied = onlyEvidence(second);
      Result deniedVerified = run("evidence", "verify", denied.toString(), "--json");
      assertEquals(0, deniedVerified.exitCode(), deniedVerified.out());
      assertEquals("DENIED_RECORD", CliTestSupport.field(deniedVerified.out(), "kind"));

      // Changed evidence proves nothing: the CLI says so for a changed byte, and the verifier for every bit.
      byte[] good = Files.readAllBytes(rollback);
      Path changed = dir.resolve("changed.cvmevid");
      byte[] bad = good.clone();
      bad[bad.length / 2] ^= 1;
      Files.write(changed, bad);
      Result refused = run("evidence", "verify", changed.toString());
      assertEquals(EvidenceCommand.EXIT_NOT_PROVEN, refused.exitCode(), refused.out());
      assertTrue(refused.out().startsWith("NOT PROVEN"), refused.out());
      for (int i = 0; i < good.length; i++) {
        for (int bit = 0; bit < 8; bit++) {
          byte[] flipped = good.clone();
          flipped[i] ^= (byte) (1 << bit);
          assertThrows(EvidenceException.class, () -> EvidenceVerifier.verify(Evidence.parse(flipped), null),
              "byte " + i + " bit " + bit);
        }
      }
    }
  }

  /**
   * One capsule created on both hosts; its writer appends two records through host a and one other
   * record through host b, so a holds a branch of height 2 and b a branch of height 1.
   */
  private static String twoBranches(HostServer a, HostServer b) throws Exception {
    SigningKey account = SigningKey.generate();
    fund(a, account);
    fund(b, account);
    try (HostClient toA = HostClient.connect("127.0.0.1:" + a.port(), account, RenterOptions.defaults());
        HostClient toB = HostClient.connect("127.0.0.1:" + b.port(), account, RenterOptions.defaults())) {
      SigningKey writer = SigningKey.generate();
      CapsuleWriter onA = CapsuleWriter.create(toA, SigningKey.generate(), writer, SigningPolicy.EVERY_RECORD, 16,
          1024, "two branches");
      ProgramBuilder create = ProgramBuilder.withoutCapsule();
      create.createCapsule(onA.metadata());
      toB.run(create.build());
      onA.append(toA, List.of(utf8("a1")));
      onA.append(toA, List.of(utf8("a2")));
      new CapsuleWriter(onA.metadata(), writer, List.of(), List.of()).append(toB, List.of(utf8("b1")));
      return onA.capsuleId().toHex();
    }
  }

  /** A reader's state whose account is funded on both hosts. */
  private static Path reader(Path state, HostServer a, HostServer b) throws Exception {
    Files.createDirectories(state);
    SigningKey account = SigningKey.generate();
    KeyFile.write(account, state.resolve("account.pem"));
    fund(a, account);
    fund(b, account);
    return state;
  }

  private static Result heads(Path state, HostServer host, String capsule) {
    return run("capsule", "heads", "--capsule", capsule, "--host", "127.0.0.1:" + host.port(), "--state",
        state.toString());
  }

  private static Path onlyEvidence(Path state) throws Exception {
    try (Stream<Path> files = Files.list(state.resolve("evidence"))) {
      List<Path> all = files.toList();
      assertEquals(1, all.size(), all.toString());
      return all.get(0);
    }
  }

  private static void fund(HostServer host, SigningKey account) throws Exception {
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      admin.fund(account.publicKey(), Amount.ofCap(10));
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
