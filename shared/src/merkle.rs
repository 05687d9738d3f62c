//! The audit log of a room as a Merkle tree (RFC 6962 / RFC 9162 §2.1):
//! leaf hashes, the tree head, inclusion and consistency proofs and their
//! verification, and signed checkpoints in the C2SP `tlog-checkpoint` text
//! shape (`origin\nsize\nbase64(root)\n`), signed with the server's
//! Ed25519 key.
//!
//! A leaf is an audit entry: `SHA-256(0x00 ‖ canonical JSON of the whole
//! entry, its hash included)`, so altering, dropping or reordering any
//! entry changes the root. Pure: the server builds the tree from the stored
//! chain; a downstream reviewer verifies proofs with no server.

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::AuditEntry;
use crate::canonical::canonical_json;

/// A node or leaf hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The leaf of one audit entry.
pub fn entry_leaf(e: &AuditEntry) -> Hash {
    leaf_hash(&canonical_json(e))
}

/// The leaves of a chain, in order.
pub fn leaves(entries: &[AuditEntry]) -> Vec<Hash> {
    entries.iter().map(entry_leaf).collect()
}

/// The largest power of two strictly less than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The Merkle tree hash of `leaves` (MTH); of no leaves, `SHA-256("")`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree of `leaves` (PATH).
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut p = inclusion_proof(index, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(index - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

/// Verifies that `leaf` is at `index` in a tree of `size` leaves with root
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// The consistency proof from the tree of the first `m` leaves to the tree
/// of all `leaves` (PROOF, RFC 6962 §2.1.2). Empty when `m` is 0 or the
/// whole tree.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { Vec::new() } else { vec![root(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], whole);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(root(&leaves[..k]));
        p
    }
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the
/// tree of `size1` leaves with root `root1` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(size1: u64, size2: u64, root1: &Hash, root2: &Hash, proof: &[Hash]) -> bool {
    if size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    if size1 == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if size1.is_power_of_two() {
        path.insert(0, *root1);
    }
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *root1 && s_r == *root2 && s_n == 0
}

/// A tree head: the log of `origin` had `size` entries with root `root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `trustroom/<room id>`.
    pub origin: String,
    pub size: u64,
    /// The root, base64 (as the checkpoint text carries it).
    pub root: String,
}

impl Checkpoint {
    pub fn new(origin: String, leaves: &[Hash]) -> Self {
        Checkpoint {
            origin,
            size: leaves.len() as u64,
            root: base64::engine::general_purpose::STANDARD.encode(root(leaves)),
        }
    }

    /// The signed text: `origin\nsize\nbase64(root)\n` (C2SP tlog-checkpoint).
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, self.root)
    }

    /// The root as bytes, if it is 32 bytes of base64.
    pub fn root_hash(&self) -> Option<Hash> {
        base64::engine::general_purpose::STANDARD.decode(&self.root).ok()?.try_into().ok()
    }
}

/// The origin line of a room's log.
pub fn origin(room: &str) -> String {
    format!("trustroom/{room}")
}

/// A checkpoint with its Ed25519 signature (hex) over the checkpoint text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub signature: String,
}

pub fn sign_checkpoint(checkpoint: Checkpoint, key: &SigningKey) -> SignedCheckpoint {
    let signature = hex::encode(key.sign(checkpoint.text().as_bytes()).to_bytes());
    SignedCheckpoint { checkpoint, signature }
}

/// Whether the checkpoint is signed by `public_key_hex`.
pub fn checkpoint_signed(c: &SignedCheckpoint, public_key_hex: &str) -> bool {
    crate::manifest::verify_signature(public_key_hex, c.checkpoint.text().as_bytes(), &c.signature).is_ok()
}

/// The inclusion of one audit entry in a checkpoint, with the entry itself
/// (so a verifier recomputes its leaf).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inclusion {
    /// Leaf index (the entry's `seq` − 1).
    pub index: u64,
    /// Sibling hashes, hex, leaf to root.
    pub proof: Vec<String>,
    pub entry: AuditEntry,
}

/// Hex hashes to bytes (`None` if any is not 32 bytes of hex).
pub fn hashes_from_hex(hashes: &[String]) -> Option<Vec<Hash>> {
    hashes.iter().map(|h| hex::decode(h).ok()?.try_into().ok()).collect()
}

/// Bytes hashes to hex.
pub fn hashes_to_hex(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// Whether `inc` proves its entry is in `checkpoint`.
pub fn inclusion_holds(inc: &Inclusion, checkpoint: &Checkpoint) -> bool {
    let (Some(proof), Some(root)) = (hashes_from_hex(&inc.proof), checkpoint.root_hash()) else { return false };
    inc.entry.seq == inc.index + 1
        && verify_inclusion(inc.index, checkpoint.size, &entry_leaf(&inc.entry), &proof, &root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves_of(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33 {
            let l = leaves_of(n);
            let r = root(&l);
            for i in 0..n {
                let p = inclusion_proof(i, &l);
                assert!(verify_inclusion(i as u64, n as u64, &l[i], &p, &r), "n={n} i={i}");
                assert!(!verify_inclusion(i as u64, n as u64, &leaf_hash(b"other"), &p, &r), "n={n} i={i}");
                if n > 1 {
                    assert!(!verify_inclusion(((i + 1) % n) as u64, n as u64, &l[i], &p, &r), "n={n} i={i} moved");
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_prefix_does_not() {
        for n in 1..=33 {
            let l = leaves_of(n);
            for m in 1..=n {
                let p = consistency_proof(m, &l);
                assert!(verify_consistency(m as u64, n as u64, &root(&l[..m]), &root(&l), &p), "m={m} n={n}");
                if m < n {
                    // A log whose first m entries changed is not an extension.
                    let mut other = l.clone();
                    other[0] = leaf_hash(b"altered");
                    let p2 = consistency_proof(m, &other);
                    assert!(!verify_consistency(m as u64, n as u64, &root(&l[..m]), &root(&other), &p2), "m={m} n={n}");
                }
            }
        }
    }

    #[test]
    fn root_matches_rfc_6962_shape() {
        // MTH({d0, d1, d2}) = H(1 ‖ H(1 ‖ d0 ‖ d1) ‖ d2).
        let l = leaves_of(3);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(hex::encode(root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
