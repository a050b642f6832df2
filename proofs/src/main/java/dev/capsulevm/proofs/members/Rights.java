package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.crypto.PublicKey;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Who may do what in a member state (docs/FORMAT.md, "Members"). A data record needs {@link #ADD}; a
 * set-member change needs a level that depends on the target and on the old and new bits; a set-retention
 * change needs {@link #SUPERADMIN}; a rekey needs {@link #READ}. Every refusal is one line naming the key, its bits and what it lacks.
 */
public final class Rights {
  /** May read. */
  public static final int READ = 1;
  /** May append data records. */
  public static final int ADD = 2;
  /** May change members that hold neither admin nor superadmin. */
  public static final int ADMIN = 16;
  /** May change admins and set retention. */
  public static final int SUPERADMIN = 32;
  /** Every defined bit: what the creator holds. */
  public static final int ALL = READ | ADD | ADMIN | SUPERADMIN;

  /** The level a change needs from its author, weakest first. */
  enum Need {
    /** A member leaving: anybody may. */
    NOTHING,
    /** Read (a rekey: whoever reads may start a new epoch). */
    READ,
    /** Admin or superadmin. */
    ADMIN,
    /** Superadmin. */
    SUPERADMIN,
    /** Only the creator. */
    CREATOR,
    /** Nobody (the creator's own entry). */
    NEVER
  }

  private Rights() {}

  /** What {@code change} by {@code author} needs in {@code state}. */
  static Need need(MemberState state, PublicKey creator, PublicKey author, MemberChange change) {
    if (change instanceof MemberChange.SetMember set) {
      PublicKey target = set.member();
      if (target.equals(creator)) {
        return Need.NEVER;
      }
      // A member may leave; a non-member's "leave" would be a change by someone with no right at all.
      if (target.equals(author) && set.bits() == 0 && state.bitsOf(author) != 0) {
        return Need.NOTHING;
      }
      int touched = state.bitsOf(target) | set.bits();
      if ((touched & SUPERADMIN) != 0) {
        return Need.CREATOR;
      }
      if ((touched & ADMIN) != 0) {
        return Need.SUPERADMIN;
      }
      return Need.ADMIN;
    }
    if (change instanceof MemberChange.Rekey) {
      return Need.READ;
    }
    return Need.SUPERADMIN;
  }

  /** Whether {@code author}, holding {@code bits}, meets {@code need}. */
  static boolean meets(Need need, int bits, PublicKey author, PublicKey creator) {
    return switch (need) {
      case NOTHING -> true;
      case READ -> (bits & READ) != 0;
      case ADMIN -> (bits & (ADMIN | SUPERADMIN)) != 0;
      case SUPERADMIN -> (bits & SUPERADMIN) != 0;
      case CREATOR -> author.equals(creator);
      case NEVER -> false;
    };
  }

  /**
   * Why {@code author} may not make {@code change} in {@code state} of a capsule created by {@code
   * creator}, or null when it may.
   */
  public static @Nullable String check(
      MemberState state, PublicKey creator, PublicKey author, MemberChange change) {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(creator, "creator");
    Objects.requireNonNull(author, "author");
    Objects.requireNonNull(change, "change");
    Need need = need(state, creator, author, change);
    int bits = state.bitsOf(author);
    if (meets(need, bits, author, creator)) {
      return null;
    }
    String who = describe(author, bits);
    boolean retention = change instanceof MemberChange.SetRetention;
    return switch (need) {
      case NEVER -> "key " + author.toHex() + " may not change the creator: the creator cannot be changed";
      case CREATOR -> who + " and may not change superadmins (only the creator may)";
      case SUPERADMIN ->
          who + (retention ? " and may not set retention (needs superadmin)" : " and may not change admins (needs superadmin)");
      case ADMIN -> who + " and may not change members (needs admin)";
      case READ -> who + " and may not rekey (needs read)";
      case NOTHING -> throw new AssertionError("a change that needs nothing is never refused");
    };
  }

  /** Whether {@code author} may append data records in {@code state}: it holds {@link #ADD}. */
  public static boolean mayWrite(MemberState state, PublicKey author) {
    return (state.bitsOf(author) & ADD) != 0;
  }

  /** Why {@code author} may not append data records in {@code state}, or null when it may. */
  public static @Nullable String writeRefusalOrNull(MemberState state, PublicKey author) {
    if (mayWrite(state, author)) {
      return null;
    }
    int bits = state.bitsOf(author);
    if (bits == 0) {
      return "key " + author.toHex() + " is not a member";
    }
    return describe(author, bits) + " and may not append records (needs add)";
  }

  private static String describe(PublicKey key, int bits) {
    return bits == 0 ? "key " + key.toHex() + " is not a member" : "key " + key.toHex() + " holds bits " + hex(bits);
  }

  /** {@code bits} as {@code 0x..}, two digits. */
  static String hex(int bits) {
    return String.format("0x%02x", bits);
  }
}
