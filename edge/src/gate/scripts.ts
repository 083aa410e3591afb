import { LuaScript } from "@fluxgate/common";
import { catalogLua } from "./catalog.lua";
import { closeSaleLua } from "./close-sale.lua";
import { drawCommitLua, drawWriteLua } from "./draw.lua";
import { endHoldLua } from "./end-hold.lua";
import { gateLua } from "./gate.lua";
import { initSaleLua } from "./init-sale.lua";
import { steerSaleLua } from "./steer-sale.lua";

/** The edge's scripts; scripts-integration.test.ts checks each SHA-1 against SCRIPT LOAD. */
export const scripts = {
  gate: new LuaScript("gate", gateLua),
  initSale: new LuaScript("init-sale", initSaleLua),
  closeSale: new LuaScript("close-sale", closeSaleLua),
  steerSale: new LuaScript("steer-sale", steerSaleLua),
  catalog: new LuaScript("catalog", catalogLua),
  endHold: new LuaScript("end-hold", endHoldLua),
  drawWrite: new LuaScript("draw-write", drawWriteLua),
  drawCommit: new LuaScript("draw-commit", drawCommitLua),
};
