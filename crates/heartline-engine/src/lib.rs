//! heartline-engine
