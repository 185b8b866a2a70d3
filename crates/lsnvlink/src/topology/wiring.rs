//! The Witherspoon (AC922) NVLink wiring, for firmware that does not write
//! `ibm,nvlink-peers`.
//!
//! skiboot tells the two planars apart by the highest `ibm,npu-group-id` over all links
//! (open-power/skiboot `platforms/astbmc/witherspoon.c`, `witherspoon_probe`): 1 means the
//! 4-GPU "Redbud" planar, 2 the 6-GPU "Sequoia" one. The same file's
//! `npu2_phb_nvlink_dt` gives the wiring (the workbook's figures 16 and 17): on Redbud each
//! GPU has 3 links to its CPU and 3 to the socket's other GPU; on Sequoia 2 to its CPU and 2
//! to each of the socket's two other GPUs. No GPU is linked to a GPU of the other socket.

/// The NVLink wiring of a Witherspoon planar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// 4-GPU "Redbud" (8335-GTH): highest group id 1.
    Redbud,
    /// 6-GPU "Sequoia" (Summit, 8335-GTW): highest group id 2.
    Sequoia,
    /// Another highest group id: no known wiring, nothing inferred.
    Unknown {
        /// The highest `ibm,npu-group-id` found.
        max_group_id: u32,
    },
}

impl Wiring {
    /// The wiring for the highest `ibm,npu-group-id` over all link nodes.
    pub fn from_max_group_id(max_group_id: u32) -> Wiring {
        match max_group_id {
            1 => Wiring::Redbud,
            2 => Wiring::Sequoia,
            _ => Wiring::Unknown { max_group_id },
        }
    }

    /// GPUs per socket.
    pub fn gpus_per_socket(self) -> Option<u32> {
        match self {
            Wiring::Redbud => Some(2),
            Wiring::Sequoia => Some(3),
            Wiring::Unknown { .. } => None,
        }
    }

    /// Links from each GPU to its CPU.
    pub fn cpu_links_per_gpu(self) -> Option<u32> {
        match self {
            Wiring::Redbud => Some(3),
            Wiring::Sequoia => Some(2),
            Wiring::Unknown { .. } => None,
        }
    }

    /// Links from each GPU to each other GPU of its socket.
    pub fn links_per_gpu_pair(self) -> Option<u32> {
        match self {
            Wiring::Redbud => Some(3),
            Wiring::Sequoia => Some(2),
            Wiring::Unknown { .. } => None,
        }
    }

    /// A short name for reports: `4-GPU Redbud`, `6-GPU Sequoia`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            Wiring::Redbud => "4-GPU Redbud",
            Wiring::Sequoia => "6-GPU Sequoia",
            Wiring::Unknown { .. } => "unknown",
        }
    }

    /// The JSON name: `redbud-4gpu`, `sequoia-6gpu`, `unknown`.
    pub fn key(self) -> &'static str {
        match self {
            Wiring::Redbud => "redbud-4gpu",
            Wiring::Sequoia => "sequoia-6gpu",
            Wiring::Unknown { .. } => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_tell_the_planars_apart() {
        assert_eq!(Wiring::from_max_group_id(1), Wiring::Redbud);
        assert_eq!(Wiring::from_max_group_id(2), Wiring::Sequoia);
        assert_eq!(
            Wiring::from_max_group_id(0),
            Wiring::Unknown { max_group_id: 0 }
        );
        // Every link of a GPU goes to its CPU or to a GPU of its socket: 6 bricks per GPU
        // on both planars.
        for w in [Wiring::Redbud, Wiring::Sequoia] {
            let per_socket = w.gpus_per_socket().unwrap();
            let cpu = w.cpu_links_per_gpu().unwrap();
            let pair = w.links_per_gpu_pair().unwrap();
            assert_eq!(cpu + pair * (per_socket - 1), 6, "{w:?}");
            assert_eq!(cpu * per_socket, 6, "{w:?}: an NPU has 6 links");
        }
        assert_eq!(
            Wiring::Unknown { max_group_id: 5 }.links_per_gpu_pair(),
            None
        );
    }
}
