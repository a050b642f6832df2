package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@link RenterOptions#withMaxCost} and {@link RenterOptions#withReceiptListener} against a real host. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpendingOptionsTest {
  @TempDir static Path dir;
  private TestHost host;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
  }

  @AfterAll
  void stop() throws Exception {
    host.close();
  }

  private record Heard(PreparedProgram program, SignedReceipt receipt) {}

  @Test
  void aProgramEstimatedAboveTheMaxCostIsRefusedBeforeSendingAndCostsNothing() throws Exception {
    SigningKey account = SigningKey.generate();
    fund(host, account, 10);
    List<Heard> heard = new CopyOnWriteArrayList<>();
    RenterOptions options = RenterOptions.defaults().withMaxCost(Amount.of(1_000))
        .withReceiptListener((program, receipt) -> heard.add(new Heard(program, receipt)));
    try (HostClient client = HostClient.connect(host.address(), account, options)) {
      Amount before = client.balance();
      MaxCostExceededException e = assertThrows(MaxCostExceededException.class, () -> CapsuleWriter.create(client,
          SigningKey.generate(), SigningKey.generate(), SigningPolicy.EVERY_RECORD, 16, 64, "too dear"));
      assertEquals(Amount.of(1_000), e.maxCost());
      assertTrue(e.estimate().exceeds(e.maxCost()), e.getMessage());
      assertTrue(e.getMessage().contains("refused before sending"), e.getMessage());
      assertEquals(before, client.balance(), "nothing was sent, so nothing was taken");
      assertEquals(List.of(), heard, "no program ran, so no receipt");
    }
  }

  @Test
  void theBudgetNeverExceedsTheMaxCostAndEveryVerifiedReceiptIsHeardFailedOnesToo() throws Exception {
    SigningKey account = SigningKey.generate();
    fund(host, account, 10);
    List<Heard> heard = new CopyOnWriteArrayList<>();
    Amount max = Amount.ofCap(1);
    RenterOptions options = RenterOptions.defaults().withMaxCost(max).withBudget(Amount.ofCap(5))
        .withReceiptListener((program, receipt) -> heard.add(new Heard(program, receipt)));
    try (HostClient client = HostClient.connect(host.address(), account, options)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 16, 64, "capped");
      writer.append(client, List.of("one".getBytes(StandardCharsets.UTF_8)));
      assertEquals(2, heard.size(), heard.toString());
      for (Heard h : heard) {
        assertEquals(max, h.receipt().receipt().budget(), "a 5 CAP budget is lowered to the 1 CAP cap");
        h.receipt().verify(client.priceTable().hostKey());
      }
      assertEquals(writer.lastResult().signedReceipt(), heard.get(1).receipt());
      assertEquals(writer.capsuleId(), heard.get(1).program().program().capsuleIdOrNull());

      // A capsule the host does not hold: an honest failure, whose verified receipt is heard too.
      byte[] absent = new byte[Hash.LENGTH];
      java.util.Arrays.fill(absent, (byte) 0x42);
      ProgramFailedException failed = assertThrows(ProgramFailedException.class,
          () -> client.metadata(Hash.copyOf(absent)));
      assertEquals(3, heard.size());
      assertEquals(failed.receipt(), heard.get(2).receipt().receipt());
    }
  }

  @Test
  void aListenerThatThrowsChangesNothing() throws Exception {
    SigningKey account = SigningKey.generate();
    fund(host, account, 10);
    RenterOptions options = RenterOptions.defaults().withReceiptListener((program, receipt) -> {
      throw new IllegalStateException("the listener's own problem");
    });
    try (HostClient client = HostClient.connect(host.address(), account, options)) {
      CapsuleWriter writer = CapsuleWriter.create(client, SigningKey.generate(), SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 16, 64, "loud listener");
      assertEquals(1, writer.append(client, List.of("one".getBytes(StandardCharsets.UTF_8))).size());
    }
  }
}
