//! The `chat` scenario's rooms: `--clients` subscribers, each in `--rooms-per-client` of
//! `--rooms` rooms (`<room>-0` .. `<room>-{R-1}`), and publishers that are members of the
//! rooms they publish to (publisher p of P joins and publishes to the rooms k with
//! k % P == p, round-robin), so a publish reaches the room's subscribers and not its sender.
//!
//! Membership is deterministic and balanced: the rooms are cut into `per_client` groups
//! of G = rooms / per_client, and client i takes one room of each group, so its rooms
//! are all different. With x = i % G and block b = i / G, it takes in group j the room
//! j·G + (m_j·x + b·s_j) mod G, where m_j is coprime to G: each block of G clients puts
//! exactly one client in every room of a group, so with clients a multiple of G every
//! room has clients·per_client/rooms of them. The m_j differ, so clients of a block share
//! no room; the shifts s_j differ, so clients of different blocks share a room now and
//! then, as in a chat, and not all of their rooms.

/// The name of room `k`.
pub fn room_name(base: &str, k: usize) -> String {
    format!("{base}-{k}")
}

/// The `per_client` rooms (indices below `rooms`) that client `i` joins, all different.
pub fn rooms_of(i: usize, rooms: usize, per_client: usize) -> Vec<usize> {
    let per_client = per_client.clamp(1, rooms.max(1));
    let group = (rooms / per_client).max(1);
    let (block, x) = (i / group, i % group);
    let mut multipliers = (1..).filter(|m| gcd(*m, group) == 1);
    (0..per_client)
        .map(|j| {
            let m = multipliers
                .next()
                .expect("there is always a coprime multiplier");
            j * group + (m % group * x + block * (2 * j + 1)) % group
        })
        .collect()
}

/// The rooms publisher `p` of `publishers` is a member of and publishes to.
pub fn publisher_rooms(p: usize, publishers: usize, rooms: usize) -> Vec<usize> {
    (0..rooms).filter(|k| k % publishers.max(1) == p).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_shape_has_five_distinct_rooms_each_and_about_twenty_a_room() {
        let (clients, rooms, k) = (8000, 2000, 5);
        let mut size = vec![0usize; rooms];
        for i in 0..clients {
            let mine = rooms_of(i, rooms, k);
            assert_eq!(mine.len(), k);
            let mut sorted = mine.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), k, "client {i} has a room twice: {mine:?}");
            for r in mine {
                size[r] += 1;
            }
        }
        let (min, max) = (size.iter().min().unwrap(), size.iter().max().unwrap());
        assert_eq!(size.iter().sum::<usize>(), clients * k);
        assert_eq!((*min, *max), (20, 20), "room sizes");
        // Clients a block apart do not share all their rooms (a chat, not 400 copies of
        // one group of 20).
        let shared = |a: usize, b: usize| {
            let rb = rooms_of(b, rooms, k);
            rooms_of(a, rooms, k)
                .iter()
                .filter(|r| rb.contains(r))
                .count()
        };
        assert!(shared(7, 7 + rooms) < k);
        assert!(shared(7, 7 + 3 * rooms) < k);
    }

    #[test]
    fn publishers_split_the_rooms_between_them() {
        let all: Vec<usize> = (0..8).flat_map(|p| publisher_rooms(p, 8, 2000)).collect();
        assert_eq!(all.len(), 2000);
        assert_eq!(publisher_rooms(3, 8, 2000).len(), 250);
        assert_eq!(publisher_rooms(0, 1, 3), vec![0, 1, 2]);
    }

    #[test]
    fn small_and_odd_sizes_still_work() {
        assert_eq!(rooms_of(0, 1, 5), vec![0]);
        for i in 0..30 {
            let mut mine = rooms_of(i, 7, 3);
            assert!(mine.iter().all(|&r| r < 7));
            mine.dedup();
            assert_eq!(mine.len(), 3);
        }
    }
}
