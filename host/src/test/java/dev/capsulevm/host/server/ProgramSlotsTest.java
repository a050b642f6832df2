package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The slot rules: the host's limit, the per-account cap, the reserve for accounts running nothing. */
class ProgramSlotsTest {
  private final List<Integer> gauge = new ArrayList<>();
  private final ProgramSlots slots = new ProgramSlots(0.25, gauge::add);

  private static PublicKey account() {
    return SigningKey.generate().publicKey();
  }

  @Test
  void anAccountNeverHoldsMoreThanItsCap() {
    PublicKey greedy = account();
    for (int i = 0; i < 8; i++) {
      assertEquals(ProgramSlots.Grant.TAKEN, slots.take(greedy, 64, 8));
    }
    assertEquals(ProgramSlots.Grant.ACCOUNT_FULL, slots.take(greedy, 64, 8));
    assertEquals(8, slots.running(greedy));
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(account(), 64, 8), "another account is not affected");
    slots.release(greedy);
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(greedy, 64, 8), "a slot given back can be taken again");
  }

  @Test
  void theLastQuarterIsKeptForAccountsRunningNothing() {
    // 8 slots, 2 kept: accounts already running a program fill 6 at most.
    List<PublicKey> busy = List.of(account(), account(), account());
    for (PublicKey a : busy) {
      assertEquals(ProgramSlots.Grant.TAKEN, slots.take(a, 8, 8));
      assertEquals(ProgramSlots.Grant.TAKEN, slots.take(a, 8, 8));
    }
    assertEquals(6, slots.running());
    assertEquals(ProgramSlots.Grant.RESERVED, slots.take(busy.get(0), 8, 8));
    PublicKey newcomer = account();
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(newcomer, 8, 8), "a newcomer finds a kept slot");
    assertEquals(ProgramSlots.Grant.RESERVED, slots.take(newcomer, 8, 8), "but only its first");
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(account(), 8, 8));
    assertEquals(ProgramSlots.Grant.HOST_FULL, slots.take(account(), 8, 8), "full is full, for newcomers too");
    assertEquals(8, slots.running());
    assertEquals(5, slots.accounts());
  }

  @Test
  void aSmallHostKeepsNothing() {
    assertEquals(0, slots.reserve(3));
    assertEquals(1, slots.reserve(4));
    assertEquals(16, slots.reserve(64));
    assertEquals(0, new ProgramSlots(0, n -> { }).reserve(64), "a share of 0 keeps nothing");
    PublicKey one = account();
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(one, 2, 8));
    assertEquals(ProgramSlots.Grant.TAKEN, slots.take(one, 2, 8));
    assertEquals(ProgramSlots.Grant.HOST_FULL, slots.take(one, 2, 8));
  }

  @Test
  void theGaugeFollowsEveryChange_andAReleaseWithoutASlotIsABug() {
    PublicKey a = account();
    slots.take(a, 4, 4);
    slots.take(a, 4, 4);
    slots.release(a);
    slots.release(a);
    assertEquals(List.of(1, 2, 1, 0), gauge);
    assertEquals(0, slots.accounts());
    assertThrows(IllegalStateException.class, () -> slots.release(a));
  }
}
