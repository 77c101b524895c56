//! The book's storage: a slab of orders found by id in one map, and per side, per tick, a FIFO
//! of slab slots with the level's live amount and count, plus the set of occupied ticks.
//!
//! A cancel is O(1): the order is zeroed and forgotten, and its corpse leaves the FIFO when
//! matching reaches it, when the level empties, or when corpses outnumber live orders (the same
//! rule as the pure engine's `_book`).

use pyo3::prelude::*;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

const COMPACT_AT: u32 = 32; // corpses per level tolerated before the FIFO is rebuilt

pub struct Order {
    pub rem: u64,
    pub id: u64,
    pub id_obj: PyObject,
    pub owner: PyObject,
    pub side: u8,
    pub tick: u64,
}

/// The order-id hash: one multiply (FxHash's). Ids come from the API's database, not from
/// users, so SipHash's flood resistance buys nothing here and costs a fifth of a lookup.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(b as u64));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Orders by slot; a freed slot is reused. `index` holds live orders only.
#[derive(Default)]
pub struct Slab {
    slots: Vec<Option<Order>>,
    free: Vec<u32>,
    pub index: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl Slab {
    pub fn insert(&mut self, o: Order) -> u32 {
        let id = o.id;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(o);
                s
            }
            None => {
                self.slots.push(Some(o));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(id, slot);
        slot
    }

    pub fn get(&self, slot: u32) -> &Order {
        self.slots[slot as usize]
            .as_ref()
            .expect("a slot in a level is occupied")
    }

    pub fn get_mut(&mut self, slot: u32) -> &mut Order {
        self.slots[slot as usize]
            .as_mut()
            .expect("a slot in a level is occupied")
    }

    /// Drop the order in `slot` and reuse the slot (the caller keeps `index` right).
    pub fn free(&mut self, slot: u32) {
        self.slots[slot as usize] = None;
        self.free.push(slot);
    }
}

/// One side of the book. `buy`: bids, best = highest tick; else asks, best = lowest.
pub struct Side {
    pub buy: bool,
    pub levels: Vec<VecDeque<u32>>,
    pub amt: Vec<u128>,
    pub cnt: Vec<u32>,
    pub dead: Vec<u32>,
    pub occupied: BTreeSet<u64>,
}

impl Side {
    pub fn new(ticks: usize, buy: bool) -> Self {
        Side {
            buy,
            levels: (0..ticks).map(|_| VecDeque::new()).collect(),
            amt: vec![0; ticks],
            cnt: vec![0; ticks],
            dead: vec![0; ticks],
            occupied: BTreeSet::new(),
        }
    }

    pub fn best(&self) -> Option<u64> {
        if self.buy {
            self.occupied.last().copied()
        } else {
            self.occupied.first().copied()
        }
    }

    /// Live ticks from the best up to the limit `lim` (inclusive), best first.
    pub fn ticks_to(&self, lim: u64) -> Box<dyn Iterator<Item = u64> + '_> {
        if self.buy {
            Box::new(self.occupied.range(lim..).rev().copied())
        } else {
            Box::new(self.occupied.range(..=lim).copied())
        }
    }

    /// Live ticks, best first.
    pub fn ticks(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.occupied.iter().copied().collect();
        if self.buy {
            v.reverse();
        }
        v
    }

    pub fn push(&mut self, slot: u32, t: u64, amount: u64) {
        let i = t as usize;
        self.levels[i].push_back(slot);
        self.amt[i] += amount as u128;
        self.cnt[i] += 1;
        self.occupied.insert(t);
    }

    /// Empty level `t`: its corpses leave the slab, the tick leaves the occupied set.
    pub fn clear_level(&mut self, slab: &mut Slab, t: u64) {
        let i = t as usize;
        for slot in self.levels[i].drain(..) {
            slab.free(slot);
        }
        self.dead[i] = 0;
        self.occupied.remove(&t);
    }

    /// Take the live order in `slot` (already out of the index) off level `t` in O(1).
    pub fn remove(&mut self, slab: &mut Slab, slot: u32, t: u64) {
        let i = t as usize;
        let o = slab.get_mut(slot);
        self.amt[i] -= o.rem as u128;
        o.rem = 0;
        self.cnt[i] -= 1;
        if self.cnt[i] == 0 {
            self.clear_level(slab, t);
        } else if self.levels[i].back() == Some(&slot) {
            self.levels[i].pop_back();
            slab.free(slot);
        } else {
            self.dead[i] += 1;
            if self.dead[i] > COMPACT_AT && self.dead[i] > self.cnt[i] {
                let (live, corpses): (VecDeque<u32>, VecDeque<u32>) = self.levels[i]
                    .drain(..)
                    .partition(|&s| slab.get(s).rem != 0);
                corpses.into_iter().for_each(|s| slab.free(s));
                self.levels[i] = live;
                self.dead[i] = 0;
            }
        }
    }
}
