//! Usactar's experiment kit: the local stack runner ([`stack`]), which starts the real servers
//! the pipeline stands on, and the chaos experiments with their reports ([`kit`]).

pub mod kit;
pub mod stack;
