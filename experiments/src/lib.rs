//! Usactar's experiment kit. For now: the local stack runner ([`stack`]), which starts the real
//! servers the pipeline and the chaos experiments stand on.

pub mod stack;
